// This file owns running a check: the model registry the CLI selects from, and the verdict.
package linearizability

import (
	"fmt"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

// Models are the models the CLI's --model flag selects from.
var Models = map[string]porcupine.Model{"kv": KvModel}

// ModelNames lists Models' keys, sorted, for usage messages.
func ModelNames() []string {
	names := make([]string, 0, len(Models))
	for name := range Models {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Check runs Porcupine over a history. timeout <= 0 means no limit. The LinearizationInfo is
// what porcupine.VisualizePath needs to draw an Illegal history.
func Check(model porcupine.Model, h *History, timeout time.Duration) (porcupine.CheckResult, porcupine.LinearizationInfo) {
	return porcupine.CheckOperationsVerbose(model, h.Operations, timeout)
}

// Summary is the one-line description of a history the CLI prints.
func (h *History) Summary() string {
	keys := map[string]struct{}{}
	for _, op := range h.Operations {
		if in, isKv := op.Input.(KvInput); isKv {
			keys[in.Key] = struct{}{}
		}
	}
	return fmt.Sprintf("%d operations checked (%d with unknown outcome), %d dropped, %d keys",
		len(h.Operations), h.Unknown, h.Dropped, len(keys))
}
