// Drives Clerk's official JavaScript SDK (@clerk/backend) against the emulator: every Users
// operation the SDK has (31 of the 38: it has no trusted-device or billing calls on users). Usage: node js_sdk.mjs http://127.0.0.1:PORT
import { createClerkClient } from '@clerk/backend';
import crypto from 'node:crypto';

const base = process.argv[2];
const key = 'sk_test_emulator';
const clerk = createClerkClient({ secretKey: key, apiUrl: base });
let ok = 0; const failed = [];
async function check(name, fn) {
  try { const r = await fn(); ok++; console.log(`ok    ${name}`); return r; }
  catch (e) { failed.push(name); console.log(`FAIL  ${name}: ${e.status ?? ''} ${JSON.stringify(e.errors ?? e.message).slice(0, 300)}`); return null; }
}
async function raw(method, path, body) {
  const r = await fetch(base + path, { method, headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return r.json();
}
function totp(secret) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = ''; for (const ch of secret) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const bytes = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8); counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000)));
  const h = crypto.createHmac('sha1', bytes).update(counter).digest();
  const o = h[h.length - 1] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, '0');
}
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const u = await check('createUser', () => clerk.users.createUser({ externalId: 'js-1', firstName: 'Ada', emailAddress: ['ada.js@example.com'], username: 'ada_js', password: 'correct-horse-battery', totpSecret: SECRET, backupCodes: ['bc-1'], web3Wallet: ['0x' + '2'.repeat(40)], publicMetadata: { a: 1 } }));
const u2 = await check('createUser 2', () => clerk.users.createUser({ firstName: 'Grace', emailAddress: ['grace.js@example.com'] }));
const list = await check('getUserList', () => clerk.users.getUserList({ emailAddress: ['ada.js@example.com', 'grace.js@example.com'], orderBy: '+created_at', limit: 10 }));
if (list && (list.totalCount !== 2 || list.data.map((x) => x.firstName).join() !== 'Ada,Grace')) { failed.push('getUserList content'); console.log('FAIL  getUserList content', list.totalCount); }
await check('getCount', () => clerk.users.getCount({ emailAddress: ['ada.js@example.com'] }));
await check('getUser', () => clerk.users.getUser(u.id));
await check('updateUser', () => clerk.users.updateUser(u.id, { firstName: 'Augusta' }));
await check('updateUserMetadata', () => clerk.users.updateUserMetadata(u.id, { publicMetadata: { b: { c: 2 } } }));
await check('verifyPassword', () => clerk.users.verifyPassword({ userId: u.id, password: 'correct-horse-battery' }));
await check('verifyTOTP', () => clerk.users.verifyTOTP({ userId: u.id, code: totp(SECRET) }));
await check('updateUserProfileImage', () => clerk.users.updateUserProfileImage(u.id, { file: new Blob([Buffer.from('\x89PNG\r\n\x1a\nxx')], { type: 'image/png' }) }));
await check('deleteUserProfileImage', () => clerk.users.deleteUserProfileImage(u.id));
await check('banUser', () => clerk.users.banUser(u.id));
await check('unbanUser', () => clerk.users.unbanUser(u.id));
await check('lockUser', () => clerk.users.lockUser(u.id));
await check('unlockUser', () => clerk.users.unlockUser(u.id));
const expect = (cond, what) => { if (!cond) throw new Error(what); };
await check('setPasswordCompromised', async () => {
  await clerk.users.setPasswordCompromised(u.id, { revokeAllSessions: true });
  let verified = true;
  try { await clerk.users.verifyPassword({ userId: u.id, password: 'correct-horse-battery' }); } catch { verified = false; }
  expect(!verified, 'a compromised password still verified');
});
await check('unsetPasswordCompromised', async () => {
  await clerk.users.unsetPasswordCompromised(u.id);
  await clerk.users.verifyPassword({ userId: u.id, password: 'correct-horse-battery' });
});
await check('replaceUserMetadata', async () => {
  const r = await clerk.users.replaceUserMetadata(u.id, { publicMetadata: { only: 1 } });
  expect(JSON.stringify(r.publicMetadata) === '{"only":1}', JSON.stringify(r.publicMetadata));
});
await check('replaceUserEmailAddress', async () => {
  const r = await clerk.users.replaceUserEmailAddress(u.id, { emailAddress: 'augusta.js@example.com' });
  expect(r.emailAddress === 'augusta.js@example.com', r.emailAddress);
});
await check('replaceUserPhoneNumber', async () => {
  const r = await clerk.users.replaceUserPhoneNumber(u.id, { phoneNumber: '+14155550188' });
  expect(r.phoneNumber === '+14155550188', r.phoneNumber);
});
const org = await raw('POST', '/v1/organizations', { name: 'Acme JS', created_by: u.id });
await raw('POST', `/v1/organizations/${org.id}/invitations`, { email_address: 'grace.js@example.com', role: 'org:member', inviter_user_id: u.id });
const pk = await raw('POST', `/_emulator/users/${u.id}/passkeys`, { name: 'key' });
const ea = await raw('POST', `/_emulator/users/${u.id}/external_accounts`, { provider: 'oauth_google', email_address: 'ada.js@gmail.com' });
await check('getUserOauthAccessToken', () => clerk.users.getUserOauthAccessToken(u.id, 'google'));
await check('getOrganizationMembershipList', () => clerk.users.getOrganizationMembershipList({ userId: u.id, limit: 10 }));
await check('getOrganizationInvitationList', () => clerk.users.getOrganizationInvitationList({ userId: u2.id }));
await check('deleteUserBackupCodes', () => clerk.users.deleteUserBackupCodes(u.id));
await check('deleteUserTOTP', () => clerk.users.deleteUserTOTP(u.id));
await check('disableUserMFA', () => clerk.users.disableUserMFA(u.id));
await check('deleteUserPasskey', () => clerk.users.deleteUserPasskey({ userId: u.id, passkeyIdentificationId: pk.id }));
await check('deleteUserWeb3Wallet', () => clerk.users.deleteUserWeb3Wallet({ userId: u.id, web3WalletIdentificationId: u.web3Wallets[0].id }));
await check('deleteUserExternalAccount', () => clerk.users.deleteUserExternalAccount({ userId: u.id, externalAccountId: ea.id }));
await check('removePassword', async () => {
  const r = await clerk.users.removePassword(u.id, { signOutOfOtherSessions: true });
  expect(r.passwordEnabled === false, String(r.passwordEnabled));
});
await check('deleteUser', () => clerk.users.deleteUser(u.id));
try { await clerk.users.getUser('user_missing'); failed.push('404'); console.log('FAIL  404: no error'); }
catch (e) { if (e.status === 404 && e.errors?.[0]?.code === 'resource_not_found') { ok++; console.log('ok    404 -> ClerkAPIResponseError resource_not_found'); } else { failed.push('404'); console.log('FAIL  404', e); } }
console.log(`${ok} ok, ${failed.length} failed`);
process.exit(failed.length ? 1 : 0);
