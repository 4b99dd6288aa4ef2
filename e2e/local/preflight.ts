// Owns the question "can the namespace harness run here?": root, iproute2, nftables, dnsmasq,
// and (when asked) the built node runtime and the Porcupine checker. Test files skip with the
// answer instead of failing on a machine that lacks them.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { DNSMASQ } from './dns.js';
import { NODE_MAIN, nodeMainExists } from './cluster.js';
import { PORCUPINE_CHECK, checkerExists } from './checks.js';

function hasCommand(cmd: string, versionFlag: string): boolean {
  try {
    execFileSync(cmd, [versionFlag], { stdio: 'ignore', timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

/** A reason to skip, or false when everything needed is here. */
export function missingPrerequisites(needs: { readonly node: boolean; readonly checker: boolean }): string | false {
  if (process.getuid?.() !== 0) return 'needs root (CAP_NET_ADMIN) for network namespaces';
  if (!hasCommand('ip', '-V')) return 'needs iproute2 (ip)';
  if (!hasCommand('nft', '--version')) return 'needs nftables (nft)';
  if (!existsSync(DNSMASQ)) return `needs dnsmasq at ${DNSMASQ}`;
  if (needs.node && !nodeMainExists()) return `node runtime not built (${NODE_MAIN}); run make build`;
  if (needs.checker && !checkerExists()) return `Porcupine checker not built (${PORCUPINE_CHECK}); run make tools`;
  return false;
}
