// Package linearizability reads Catga client histories (JSON lines, schema in README.md) and
// checks them with Porcupine against a key-value model partitioned per key.
// This file owns the history format: decoding, validation and conversion to porcupine.Operation.
package linearizability

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/anishathalye/porcupine"
)

// MaxLineBytes bounds one history record; a longer line is an input error.
const MaxLineBytes = 1 << 20

// Record is one line of a history file, exactly as the README describes it.
type Record struct {
	Client   *int    `json:"client"`
	Op       string  `json:"op"`
	Key      *string `json:"key"`
	Value    *string `json:"value"`
	Expected *string `json:"expected"`
	Ok       *bool   `json:"ok"`
	Result   *string `json:"result"`
	Call     *int64  `json:"call"`
	Return   *int64  `json:"return"`
}

// History is a decoded, validated history ready for Porcupine.
type History struct {
	Operations []porcupine.Operation
	// Dropped counts records that cannot affect the check: a put that definitely failed, a get
	// that failed or whose outcome is unknown (it changed nothing and observed nothing).
	Dropped int
	// Unknown counts operations whose outcome is unknown (checked with an infinite return time).
	Unknown int
}

// clientCall locates one operation of a client, to check that no client is reused after an
// operation whose outcome is unknown (whatever the order of the lines).
type clientCall struct {
	client int
	call   int64
	line   int
}

// InputError is a history that does not follow the schema; Line is 1-based.
type InputError struct {
	Line int
	Msg  string
}

func (e *InputError) Error() string { return fmt.Sprintf("history line %d: %s", e.Line, e.Msg) }

// ReadHistory decodes a JSON-lines history. Blank lines are ignored.
func ReadHistory(r io.Reader) (*History, error) {
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 0, 64*1024), MaxLineBytes)
	h := &History{}
	var calls []clientCall
	unknownOf := map[int]clientCall{} // client id -> its unknown-outcome operation
	unknownOps := []int{}             // indexes in h.Operations whose Return is set at the end
	var maxTime int64
	for line := 1; scanner.Scan(); line++ {
		text := bytes.TrimSpace(scanner.Bytes())
		if len(text) == 0 {
			continue
		}
		var rec Record
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			return nil, &InputError{line, err.Error()}
		}
		op, keep, err := toOperation(&rec)
		if err != nil {
			return nil, &InputError{line, err.Error()}
		}
		call := clientCall{client: *rec.Client, call: *rec.Call, line: line}
		calls = append(calls, call)
		maxTime = max(maxTime, op.Call, op.Return)
		if rec.Ok == nil {
			if prev, twice := unknownOf[call.client]; twice {
				return nil, &InputError{line, fmt.Sprintf("client %d has a second unknown-outcome operation (first on line %d)", call.client, prev.line)}
			}
			unknownOf[call.client] = call
		}
		if !keep {
			h.Dropped++
			continue
		}
		if rec.Ok == nil {
			h.Unknown++
			unknownOps = append(unknownOps, len(h.Operations))
		}
		h.Operations = append(h.Operations, op)
	}
	if err := scanner.Err(); err != nil {
		return nil, &InputError{0, err.Error()}
	}
	for _, c := range calls {
		if unknown, has := unknownOf[c.client]; has && c.call > unknown.call {
			return nil, &InputError{c.line, fmt.Sprintf("client %d reused after its unknown-outcome operation on line %d", c.client, unknown.line)}
		}
	}
	// "Return = +infinity": after every other event, which keeps the visualisation readable.
	if maxTime == math.MaxInt64 {
		return nil, &InputError{0, "timestamps must be below 2^63-1"}
	}
	for _, i := range unknownOps {
		h.Operations[i].Return = maxTime + 1
	}
	return h, nil
}

// toOperation validates a record and converts it; keep is false for a record that cannot
// affect the check (see History.Dropped).
func toOperation(rec *Record) (op porcupine.Operation, keep bool, err error) {
	switch {
	case rec.Client == nil || *rec.Client < 0:
		return op, false, fmt.Errorf("client must be a non-negative integer")
	case rec.Key == nil:
		return op, false, fmt.Errorf("key is required")
	case rec.Call == nil:
		return op, false, fmt.Errorf("call is required")
	case rec.Ok != nil && rec.Return == nil:
		return op, false, fmt.Errorf("return is required when ok is true or false")
	case rec.Return != nil && *rec.Return < *rec.Call:
		return op, false, fmt.Errorf("return %d is before call %d", *rec.Return, *rec.Call)
	}
	in := KvInput{Key: *rec.Key}
	out := KvOutput{Outcome: outcomeOf(rec.Ok)}
	switch rec.Op {
	case "put":
		if rec.Value == nil {
			return op, false, fmt.Errorf("put needs a value")
		}
		in.Op, in.Value = OpPut, *rec.Value
		keep = out.Outcome != Failed
	case "cas":
		if rec.Value == nil {
			return op, false, fmt.Errorf("cas needs a value")
		}
		in.Op, in.Value = OpCas, *rec.Value
		in.ExpectedExists = rec.Expected != nil
		if rec.Expected != nil {
			in.Expected = *rec.Expected
		}
		keep = true
	case "get":
		in.Op = OpGet
		out.ResultExists = rec.Result != nil
		if rec.Result != nil {
			out.Result = *rec.Result
		}
		keep = out.Outcome == Succeeded
	default:
		return op, false, fmt.Errorf("op must be put, cas or get, not %q", rec.Op)
	}
	op = porcupine.Operation{ClientId: *rec.Client, Input: in, Call: *rec.Call, Output: out}
	if rec.Return != nil {
		op.Return = *rec.Return
	}
	return op, keep, nil
}

func outcomeOf(ok *bool) Outcome {
	switch {
	case ok == nil:
		return OutcomeUnknown
	case *ok:
		return Succeeded
	default:
		return Failed
	}
}
