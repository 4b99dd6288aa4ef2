// This file owns the key-value model Porcupine checks histories against: put, cas (with an
// expected value, or must-not-exist) and linearizable get, partitioned per key.
package linearizability

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// OpKind names a KV operation.
type OpKind uint8

const (
	OpPut OpKind = iota + 1
	OpCas
	OpGet
)

// Outcome is what the client learned about an operation.
type Outcome uint8

const (
	// Succeeded: put applied, cas compared equal and swapped, get answered.
	Succeeded Outcome = iota + 1
	// Failed: cas compared unequal (nothing changed); put or get definitely not applied.
	Failed
	// OutcomeUnknown: the client never learned (timeout, connection lost); the operation may
	// or may not have taken effect.
	OutcomeUnknown
)

// KvInput is the Porcupine input of one operation.
type KvInput struct {
	Op             OpKind
	Key            string
	Value          string // put, cas: the value written
	Expected       string // cas: the value required, when ExpectedExists
	ExpectedExists bool   // cas: false means "the key must not exist"
}

// KvOutput is the Porcupine output of one operation.
type KvOutput struct {
	Outcome      Outcome
	Result       string // get: the value read, when ResultExists
	ResultExists bool   // get: false means "the key did not exist"
}

// kvState is the value of one key (the model is partitioned per key).
type kvState struct {
	exists bool
	value  string
}

// KvModel is the Porcupine model of Catga's kv.put / kv.cas / kv.get.
var KvModel = porcupine.Model{
	Partition:         partitionByKey,
	Init:              func() interface{} { return kvState{} },
	Step:              step,
	Equal:             func(a, b interface{}) bool { return a.(kvState) == b.(kvState) },
	DescribeOperation: describeOperation,
	DescribeState: func(state interface{}) string {
		return describeValue(state.(kvState).exists, state.(kvState).value)
	},
}

func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	index := map[string]int{}
	var parts [][]porcupine.Operation
	for _, op := range history {
		key := op.Input.(KvInput).Key
		i, seen := index[key]
		if !seen {
			i = len(parts)
			index[key] = i
			parts = append(parts, nil)
		}
		parts[i] = append(parts[i], op)
	}
	return parts
}

func step(state, input, output interface{}) (bool, interface{}) {
	s, in, out := state.(kvState), input.(KvInput), output.(KvOutput)
	switch in.Op {
	case OpPut:
		// Failed puts are dropped by ReadHistory; an unknown put is linearized as applied,
		// or (its return being at infinity) after everything, where it is unobservable.
		return true, kvState{exists: true, value: in.Value}
	case OpCas:
		matches := s.exists == in.ExpectedExists && (!s.exists || s.value == in.Expected)
		switch out.Outcome {
		case Succeeded:
			return matches, kvState{exists: true, value: in.Value}
		case Failed:
			return !matches, s
		default:
			if matches {
				return true, kvState{exists: true, value: in.Value}
			}
			return true, s
		}
	case OpGet:
		return out.ResultExists == s.exists && (!s.exists || out.Result == s.value), s
	}
	panic(fmt.Sprintf("kv model: unknown op kind %d", in.Op))
}

func describeValue(exists bool, value string) string {
	if !exists {
		return "∅"
	}
	return fmt.Sprintf("%q", value)
}

func describeOperation(input, output interface{}) string {
	in, out := input.(KvInput), output.(KvOutput)
	var outcome string
	switch out.Outcome {
	case Succeeded:
		outcome = "ok"
	case Failed:
		outcome = "failed"
	default:
		outcome = "unknown"
	}
	switch in.Op {
	case OpPut:
		return fmt.Sprintf("put(%q, %q) → %s", in.Key, in.Value, outcome)
	case OpCas:
		return fmt.Sprintf("cas(%q, %s → %q) → %s", in.Key, describeValue(in.ExpectedExists, in.Expected), in.Value, outcome)
	default:
		return fmt.Sprintf("get(%q) → %s", in.Key, describeValue(out.ResultExists, out.Result))
	}
}
