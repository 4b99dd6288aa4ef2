// Coded errors of membership: bad node ids, static peer lists and DNS server settings.

export type MembershipErrorCode = 'INVALID_NODE_ID' | 'INVALID_STATIC_PEERS' | 'INVALID_DNS_SERVER' | 'DISCOVERY_ABORTED';

export class MembershipError extends Error {
  constructor(
    readonly code: MembershipErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MembershipError';
  }
}
