// The one error type the test harness throws, with a stable UPPER_SNAKE code per failure kind.

export type HarnessErrorCode =
  | 'TOOLS_MISSING' // a binary of `make tools` is not in bin/
  | 'OPENSSL_MISSING' // certificates cannot be generated
  | 'PROCESS_EXITED' // a control-plane process or dnsmasq died while starting
  | 'WAIT_TIMEOUT' // a condition the harness waits on did not come true in time
  | 'IP_POOL_EXHAUSTED' // more live pods than loopback addresses in the pool
  | 'HARNESS_STOPPED'; // a call on a harness object after stop()

export class HarnessError extends Error {
  constructor(
    readonly code: HarnessErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'HarnessError';
  }
}
