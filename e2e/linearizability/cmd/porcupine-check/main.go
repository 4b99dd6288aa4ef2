// Command porcupine-check checks a JSON-lines client history for linearizability with Porcupine.
// Exit codes: 0 linearizable, 1 not linearizable (HTML visualisation written), 2 unknown
// (timeout), 3 usage or input error. The history schema is in ../../README.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"catga.dev/e2e/linearizability"
)

const (
	exitLinearizable    = 0
	exitNotLinearizable = 1
	exitUnknown         = 2
	exitInputError      = 3
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	flags := flag.NewFlagSet("porcupine-check", flag.ContinueOnError)
	modelName := flags.String("model", "kv", "model: "+strings.Join(linearizability.ModelNames(), ", "))
	historyPath := flags.String("history", "", "history file, JSON lines (required)")
	htmlPath := flags.String("html", "", "where to write the visualisation when the check fails (default: the history path with .html)")
	timeout := flags.Duration("timeout", 60*time.Second, "give up (exit 2) after this long; 0 means no limit")
	if err := flags.Parse(args); err != nil {
		return exitInputError
	}
	model, known := linearizability.Models[*modelName]
	if !known || *historyPath == "" || flags.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: porcupine-check --model kv --history FILE.jsonl [--html OUT.html] [--timeout 60s]")
		return exitInputError
	}
	if *htmlPath == "" {
		*htmlPath = strings.TrimSuffix(*historyPath, ".jsonl") + ".html"
	}

	file, err := os.Open(*historyPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "porcupine-check:", err)
		return exitInputError
	}
	history, err := linearizability.ReadHistory(file)
	file.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "porcupine-check: %s: %v\n", *historyPath, err)
		return exitInputError
	}

	start := time.Now()
	result, info := linearizability.Check(model, history, *timeout)
	fmt.Fprintf(os.Stderr, "porcupine-check: %s in %s\n", history.Summary(), time.Since(start).Round(time.Millisecond))
	switch result {
	case porcupine.Ok:
		fmt.Println("linearizable")
		return exitLinearizable
	case porcupine.Illegal:
		fmt.Println("NOT linearizable")
		if err := porcupine.VisualizePath(model, info, *htmlPath); err != nil {
			fmt.Fprintln(os.Stderr, "porcupine-check: writing the visualisation:", err)
		} else {
			fmt.Fprintln(os.Stderr, "porcupine-check: visualisation written to", *htmlPath)
		}
		return exitNotLinearizable
	default:
		fmt.Printf("UNKNOWN: no verdict within %s\n", *timeout)
		return exitUnknown
	}
}
