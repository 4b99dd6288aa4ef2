// Whether a node sees a quorum: a leader counts the voters heard within the window, a follower
// looks at its leader; peers outside the configuration are forgotten.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PeerContact } from '../../../src/runtime/peer-contact.js';
import type { RaftStatus, Role } from '../../../src/raft/types.js';

const WINDOW_MS = 500;

function status(id: string, role: Role, leader: string | null, voters = ['n1', 'n2', 'n3'], learners: string[] = []): RaftStatus {
  const addresses = Object.fromEntries([...voters, ...learners].map((v) => [v, `${v}:1`]));
  return { id, role, leader, term: 2, vote: null, commit: 0, applied: 0, firstIndex: 1, lastIndex: 0, conf: { voters, learners, addresses }, progress: {}, transferee: null };
}

test('a leader sees a quorum while a majority of the voters, itself included, was heard within the window', () => {
  const contact = new PeerContact(WINDOW_MS);
  const leader = status('n1', 'leader', 'n1');
  assert.deepEqual(contact.view(leader, 1_000), { visible: false, voters: ['n1'], reason: 'leader; 1 of 3 voters heard within 500 ms, 2 needed' });
  contact.heard('n2', 1_000);
  assert.equal(contact.view(leader, 1_000 + WINDOW_MS).visible, true);
  assert.deepEqual(contact.view(leader, 1_000 + WINDOW_MS).voters, ['n1', 'n2']);
  assert.equal(contact.view(leader, 1_001 + WINDOW_MS).visible, false, 'n2 was heard too long ago');
  // A learner heard often does not make a quorum of five voters.
  const five = status('n1', 'leader', 'n1', ['n1', 'n2', 'n3', 'n4', 'n5'], ['n6']);
  contact.heard('n2', 2_000);
  contact.heard('n6', 2_000);
  assert.equal(contact.view(five, 2_000).visible, false);
  contact.heard('n4', 2_000);
  assert.equal(contact.view(five, 2_000).visible, true);
});

test('a follower sees a quorum while it hears its leader; without a leader it sees none', () => {
  const contact = new PeerContact(WINDOW_MS);
  const follower = status('n2', 'follower', 'n1');
  contact.heard('n3', 1_000);
  assert.equal(contact.view(follower, 1_000).visible, false, 'another follower is not the leader');
  contact.heard('n1', 1_000);
  assert.deepEqual(contact.view(follower, 1_200), { visible: true, voters: ['n1', 'n2', 'n3'], reason: 'following n1, heard within 500 ms' });
  assert.equal(contact.view(follower, 1_501).visible, false);
  assert.deepEqual(contact.view(status('n2', 'candidate', null), 1_000), { visible: false, voters: ['n1', 'n2', 'n3'], reason: 'candidate without a known leader' });
});

test('a peer removed from the configuration is forgotten', () => {
  const contact = new PeerContact(WINDOW_MS);
  contact.heard('n3', 1_000);
  contact.view(status('n1', 'leader', 'n1', ['n1', 'n2']), 1_000);
  // n3 comes back into the configuration: the old contact no longer counts.
  assert.deepEqual(contact.view(status('n1', 'leader', 'n1'), 1_000).voters, ['n1']);
  assert.throws(() => new PeerContact(0), /window must be positive/);
});
