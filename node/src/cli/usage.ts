// The `catga` command's usage text: printed by main.ts and rendered into docs/configuration.md
// by docs.ts (kept here so that importing it runs nothing).

export const USAGE = `usage: catga <verb> [flags]

verbs:
  node     run one node (flags or CATGA_* environment; catga node --help lists them)
  dev      a local cluster on 127.0.0.1 running your handlers (--handlers a.ts,b.ts) or the built-in ones (--nodes 3)
  sim      deterministic simulation of the Raft core under faults (--seeds N --nodes 3|5 --steps K)
  bench    the benchmark, side by side with etcd (--quick, --json, --only=..., --seconds=N, --rounds=N, --soak=SECONDS)
  backup   back up a running cluster to a directory or S3 (--to, --from), or check one (backup verify <location>)
  restore  prepare a data directory from a backup, as a member of a new cluster (--from, --data-dir, --id)
`;
