// The account chooser shown on every page that signs: wallet accounts (after "Connect browser
// wallet") and, on development chains, the development accounts — clearly labelled.

import { errorText, h, setStatus } from './dom.js';
import { formatBalance, shortAddress } from './format.js';
import { devAccounts, extensionAccounts, hasExtension } from './wallet.js';

/**
 * Fills `container` with a labelled <select id="account">, a wallet button and the balance of
 * the chosen account. `onChange(account | null)` is called on every choice.
 * Returns `{ current(), select(id) }`.
 */
export async function accountPicker(container, { chain, dev, storageKey, onChange }) {
  const select = h('select', { id: 'account', name: 'account' });
  const connect = h('button', { type: 'button', id: 'connect-wallet', class: 'secondary' }, 'Connect browser wallet');
  const balance = h('output', { id: 'account-balance', for: 'account', 'aria-live': 'polite' });
  const note = h('p', { id: 'account-note', class: 'hint', role: 'status' });
  container.replaceChildren(
    h('div', { class: 'field' },
      h('label', { for: 'account' }, 'Account'),
      h('div', { class: 'row' }, select, connect)),
    h('p', { class: 'balance' }, 'Balance: ', balance),
    note,
  );
  if (dev) {
    container.append(h('p', { class: 'dev-warning', role: 'note' },
      'Development only: //Alice, //Bob, … are the publicly known development keys. ',
      'Use them only on a local development chain, never with real funds.'));
  }

  let accounts = [];
  let wallet = [];
  const dev_ = dev ? await devAccounts() : [];
  let unsubBalance = null;

  function render(selectedId) {
    select.replaceChildren(h('option', { value: '' }, '— choose an account —'));
    if (wallet.length) {
      select.append(h('optgroup', { label: 'Browser wallet' },
        wallet.map((a) => h('option', { value: a.id }, `${a.name} — ${shortAddress(a.address)}`))));
    }
    if (dev_.length) {
      select.append(h('optgroup', { label: 'Development accounts (development only)' },
        dev_.map((a) => h('option', { value: a.id }, `${a.name} (development only) — ${shortAddress(a.address)}`))));
    }
    accounts = [...wallet, ...dev_];
    if (selectedId && accounts.some((a) => a.id === selectedId)) select.value = selectedId;
  }

  function current() {
    return accounts.find((a) => a.id === select.value) ?? null;
  }

  async function changed() {
    const account = current();
    if (unsubBalance) {
      unsubBalance();
      unsubBalance = null;
    }
    balance.textContent = account ? '…' : '—';
    if (account) {
      localStorage.setItem(storageKey, account.id);
      unsubBalance = await chain.subscribeFree(account.address, (free) => {
        balance.textContent = formatBalance(free);
        balance.dataset.plancks = free.toString();
      });
    }
    onChange?.(account);
  }

  select.addEventListener('change', changed);
  connect.addEventListener('click', async () => {
    connect.disabled = true;
    setStatus(note, 'Asking the wallet extension for access…', 'busy');
    try {
      wallet = await extensionAccounts();
      render(select.value);
      setStatus(note, wallet.length
        ? `${wallet.length} wallet account(s) available. Your wallet asks you to approve each signature.`
        : 'No wallet account (sr25519 or ed25519) was shared with this page.', wallet.length ? 'ok' : 'error');
    } catch (e) {
      setStatus(note, `Wallet: ${errorText(e)}`, 'error');
    } finally {
      connect.disabled = false;
    }
  });

  // Extensions inject themselves at document start, sometimes a little later.
  const noteExtension = () => {
    if (!hasExtension()) {
      connect.disabled = true;
      connect.title = 'No polkadot.js-compatible wallet extension found in this browser';
      if (!dev) setStatus(note, 'Install a polkadot.js-compatible wallet extension to sign.', 'error');
    } else {
      connect.disabled = false;
      connect.title = '';
    }
  };
  noteExtension();
  setTimeout(noteExtension, 1000);

  render(localStorage.getItem(storageKey));
  await changed();

  return {
    current,
    select(id) {
      select.value = id;
      return changed();
    },
    element: select,
  };
}

