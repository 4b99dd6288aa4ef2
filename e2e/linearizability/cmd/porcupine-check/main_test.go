// Tests of the CLI contract: exit codes and the visualisation written on failure.
package main

import (
	"os"
	"path/filepath"
	"testing"
)

const staleRead = `{"client":0,"op":"put","key":"a","value":"1","ok":true,"call":0,"return":10}
{"client":1,"op":"get","key":"a","ok":true,"result":null,"call":20,"return":30}
`

func writeHistory(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "history.jsonl")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExitCodes(t *testing.T) {
	legal := writeHistory(t, `{"client":0,"op":"put","key":"a","value":"1","ok":true,"call":0,"return":10}`+"\n")
	if code := run([]string{"--model", "kv", "--history", legal}); code != exitLinearizable {
		t.Fatalf("legal history: exit %d", code)
	}
	if code := run([]string{"--model", "nope", "--history", legal}); code != exitInputError {
		t.Fatalf("unknown model: exit %d", code)
	}
	if code := run([]string{"--history", writeHistory(t, "{not json\n")}); code != exitInputError {
		t.Fatalf("bad history: exit %d", code)
	}
}

func TestIllegalWritesVisualisationNextToHistory(t *testing.T) {
	path := writeHistory(t, staleRead)
	if code := run([]string{"--history", path}); code != exitNotLinearizable {
		t.Fatalf("exit %d", code)
	}
	html, err := os.ReadFile(filepath.Join(filepath.Dir(path), "history.html"))
	if err != nil || len(html) == 0 {
		t.Fatalf("no visualisation: %v", err)
	}
}
