// The chat of a room: history, new messages, deletions, and — for the creator — moderation
// buttons (delete a message in the sidecar, ban its author on chain).

import { clockTime, shortAddress } from './format.js';
import { h, setStatus } from './dom.js';

const MAX_MESSAGES = 300;

export class ChatView {
  /**
   * `log`: the <ul role="log">; `status`: a status element; `me`: () => own address;
   * `creator`: the stream creator's address; `moderation`: {onDelete(id), onBan(account)} or null.
   */
  constructor({ log, status, me, creator, moderation = null }) {
    this.log = log;
    this.status = status;
    this.me = me;
    this.creator = creator;
    this.moderation = moderation;
    this.client = null;
    this.offs = [];
  }

  /** Follows the room of `client` (after `joined`). */
  attach(client) {
    this.detach();
    this.client = client;
    this.offs.push(
      client.on('chat_history', (msg) => {
        this.log.replaceChildren();
        for (const m of msg.messages) this.add(m);
      }),
      client.on('chat', (m) => this.add(m)),
      client.on('chat_deleted', (m) => this.remove(m.id)),
      client.on('error', (e) => {
        if (e.request === 'chat' || e.request === 'delete_chat') {
          setStatus(this.status, `Chat: ${e.message || e.code}`, 'error');
        }
      }),
    );
  }

  detach() {
    for (const off of this.offs) off();
    this.offs = [];
    this.client = null;
  }

  add(m) {
    if (this.log.querySelector(`[data-id="${Number(m.id)}"]`)) return;
    const mine = m.from === this.me();
    const isCreator = m.from === this.creator;
    const who = isCreator ? 'creator' : mine ? 'you' : shortAddress(m.from);
    const item = h('li', { class: `chat-message${mine ? ' mine' : ''}${isCreator ? ' by-creator' : ''}`, dataset: { id: String(m.id), from: m.from } },
      h('span', { class: 'chat-from', title: m.from }, who),
      ' ',
      h('time', { datetime: new Date(Number(m.at_ms)).toISOString() }, clockTime(m.at_ms)),
      ' ',
      h('span', { class: 'chat-text' }, m.text));
    if (this.moderation && !isCreator) {
      item.append(h('span', { class: 'chat-actions' },
        h('button', {
          type: 'button', class: 'link delete-message', 'aria-label': `Delete message from ${shortAddress(m.from)}: ${m.text}`,
          onclick: () => this.moderation.onDelete(m.id),
        }, 'Delete'),
        h('button', {
          type: 'button', class: 'link ban-viewer', 'aria-label': `Ban ${shortAddress(m.from)} from your streams`,
          onclick: (ev) => this.moderation.onBan(m.from, ev.currentTarget),
        }, 'Ban')));
    }
    this.log.append(item);
    while (this.log.children.length > MAX_MESSAGES) this.log.firstElementChild.remove();
    this.log.scrollTop = this.log.scrollHeight;
  }

  remove(id) {
    const item = this.log.querySelector(`[data-id="${Number(id)}"]`);
    if (item) {
      item.remove();
      setStatus(this.status, 'A message was removed by the creator.', 'info');
    }
  }

  /** Sends `text` to the room (errors arrive as `error` messages, shown in the status). */
  send(text) {
    if (!this.client?.open) throw new Error('not connected to the room');
    this.client.send({ type: 'chat', text });
  }
}
