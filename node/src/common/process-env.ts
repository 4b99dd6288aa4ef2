// The environment a node process starts with where Catga starts it: the node image (node/Dockerfile
// sets the same values, a repo test keeps them equal) and local clusters (local/local-cluster.ts).
// Both bound the memory a node keeps after a write load of large values, measured in the README
// (Benchmarks, "Large state"); a value already in the environment wins.
//  - glibc serves allocations of 512 KiB and more (request bodies, entries of a batch, event
//    frames) with their own mappings, returned when freed; by default the threshold rises to the
//    largest block freed so far and such blocks fragment the heap, which never shrinks.
//  - V8's young generation stays at most 8 MiB per semi-space instead of growing to 32: it was
//    60 MB of a node's memory after the load, 0.5–14 MB of it in use.
export const NODE_PROCESS_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: '524288',
  NODE_OPTIONS: '--max-semi-space-size=8',
};
