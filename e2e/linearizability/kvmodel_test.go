// Tests of the KV model and history reader on tiny hand-made histories, legal and illegal.
package linearizability

import (
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

func mustRead(t *testing.T, jsonl string) *History {
	t.Helper()
	h, err := ReadHistory(strings.NewReader(jsonl))
	if err != nil {
		t.Fatalf("ReadHistory: %v", err)
	}
	return h
}

func verdict(t *testing.T, jsonl string) porcupine.CheckResult {
	t.Helper()
	result, _ := Check(KvModel, mustRead(t, jsonl), 10*time.Second)
	return result
}

func TestVerdicts(t *testing.T) {
	cases := []struct {
		name    string
		want    porcupine.CheckResult
		history string
	}{
		{"concurrent put and get may see either value", porcupine.Ok, `
{"client":0,"op":"put","key":"a","value":"1","ok":true,"call":0,"return":10}
{"client":0,"op":"put","key":"a","value":"2","ok":true,"call":20,"return":40}
{"client":1,"op":"get","key":"a","ok":true,"result":"1","call":25,"return":30}
{"client":1,"op":"get","key":"a","ok":true,"result":"2","call":35,"return":50}`},
		{"stale read after a completed put", porcupine.Illegal, `
{"client":0,"op":"put","key":"a","value":"1","ok":true,"call":0,"return":10}
{"client":0,"op":"put","key":"a","value":"2","ok":true,"call":20,"return":30}
{"client":1,"op":"get","key":"a","ok":true,"result":"1","call":40,"return":50}`},
		{"read of a missing key before any put", porcupine.Ok, `
{"client":1,"op":"get","key":"a","ok":true,"result":null,"call":0,"return":5}
{"client":0,"op":"put","key":"a","value":"1","ok":true,"call":10,"return":20}`},
		{"missing key read after a put", porcupine.Illegal, `
{"client":0,"op":"put","key":"a","value":"1","ok":true,"call":0,"return":10}
{"client":1,"op":"get","key":"a","ok":true,"result":null,"call":20,"return":30}`},
		{"cas must-not-exist succeeds once only", porcupine.Illegal, `
{"client":0,"op":"cas","key":"a","value":"x","expected":null,"ok":true,"call":0,"return":10}
{"client":1,"op":"cas","key":"a","value":"y","expected":null,"ok":true,"call":20,"return":30}`},
		{"cas chain with a failed compare", porcupine.Ok, `
{"client":0,"op":"cas","key":"a","value":"x","expected":null,"ok":true,"call":0,"return":10}
{"client":1,"op":"cas","key":"a","value":"y","expected":"z","ok":false,"call":20,"return":30}
{"client":1,"op":"cas","key":"a","value":"y","expected":"x","ok":true,"call":40,"return":50}
{"client":0,"op":"get","key":"a","ok":true,"result":"y","call":60,"return":70}`},
		{"cas reported failed although the value matched", porcupine.Illegal, `
{"client":0,"op":"put","key":"a","value":"x","ok":true,"call":0,"return":10}
{"client":1,"op":"cas","key":"a","value":"y","expected":"x","ok":false,"call":20,"return":30}`},
		{"unknown put may be seen later", porcupine.Ok, `
{"client":0,"op":"put","key":"a","value":"1","ok":null,"call":0,"return":null}
{"client":1,"op":"get","key":"a","ok":true,"result":null,"call":10,"return":20}
{"client":1,"op":"get","key":"a","ok":true,"result":"1","call":30,"return":40}`},
		{"unknown put may never be seen", porcupine.Ok, `
{"client":0,"op":"put","key":"a","value":"1","ok":null,"call":0,"return":null}
{"client":1,"op":"get","key":"a","ok":true,"result":null,"call":10,"return":20}`},
		{"unknown put cannot un-happen once seen", porcupine.Illegal, `
{"client":0,"op":"put","key":"a","value":"1","ok":null,"call":0,"return":null}
{"client":1,"op":"get","key":"a","ok":true,"result":"1","call":10,"return":20}
{"client":1,"op":"get","key":"a","ok":true,"result":null,"call":30,"return":40}`},
		{"a failed put is ignored", porcupine.Ok, `
{"client":0,"op":"put","key":"a","value":"1","ok":false,"call":0,"return":10}
{"client":1,"op":"get","key":"a","ok":true,"result":null,"call":20,"return":30}`},
		{"keys are independent", porcupine.Ok, `
{"client":0,"op":"put","key":"a","value":"1","ok":true,"call":0,"return":10}
{"client":1,"op":"get","key":"b","ok":true,"result":null,"call":20,"return":30}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := verdict(t, c.history); got != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestReadHistoryCountsAndUnknownReturn(t *testing.T) {
	h := mustRead(t, `
{"client":0,"op":"put","key":"a","value":"1","ok":null,"call":5,"return":null}
{"client":1,"op":"get","key":"a","ok":false,"call":1,"return":2}
{"client":2,"op":"put","key":"b","value":"1","ok":true,"call":3,"return":900}
`)
	if len(h.Operations) != 2 || h.Unknown != 1 || h.Dropped != 1 {
		t.Fatalf("got %d operations, %d unknown, %d dropped", len(h.Operations), h.Unknown, h.Dropped)
	}
	if h.Operations[0].Return != 901 {
		t.Fatalf("unknown operation returns at %d, want 901 (after every other event)", h.Operations[0].Return)
	}
}

func TestReadHistoryAcceptsLinesInAnyOrder(t *testing.T) {
	h := mustRead(t, `
{"client":0,"op":"put","key":"a","value":"2","ok":null,"call":20,"return":null}
{"client":0,"op":"put","key":"a","value":"1","ok":true,"call":0,"return":10}
`)
	if len(h.Operations) != 2 || h.Unknown != 1 {
		t.Fatalf("got %d operations, %d unknown", len(h.Operations), h.Unknown)
	}
}

func TestReadHistoryRejectsBadRecords(t *testing.T) {
	bad := map[string]string{
		"unknown op":           `{"client":0,"op":"del","key":"a","ok":true,"call":0,"return":1}`,
		"unknown field":        `{"client":0,"op":"get","key":"a","ok":true,"call":0,"return":1,"x":1}`,
		"return before call":   `{"client":0,"op":"get","key":"a","ok":true,"call":5,"return":1}`,
		"missing return":       `{"client":0,"op":"get","key":"a","ok":true,"call":0}`,
		"put without value":    `{"client":0,"op":"put","key":"a","ok":true,"call":0,"return":1}`,
		"fractional timestamp": `{"client":0,"op":"get","key":"a","ok":true,"call":0.5,"return":1}`,
		"client reused after unknown": `{"client":0,"op":"put","key":"a","value":"1","ok":null,"call":0,"return":null}
{"client":0,"op":"get","key":"a","ok":true,"call":3,"return":4}`,
		"client reused after unknown, lines out of order": `{"client":0,"op":"get","key":"a","ok":true,"call":3,"return":4}
{"client":0,"op":"put","key":"a","value":"1","ok":null,"call":0,"return":null}`,
	}
	for name, jsonl := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := ReadHistory(strings.NewReader(jsonl)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
