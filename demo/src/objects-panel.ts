/**
 * The object list: each object's colour, an editable name, whether it is the one clicks go to, how many
 * frames it is on, and a delete button. New objects come from the "New object" button.
 */
import type { TrackingSession } from './session.js';
import { objectCss } from './viewer.js';

export interface ObjectsPanelActions {
  select(objId: number): void;
  rename(objId: number, name: string): void;
  remove(objId: number): void;
}

export function renderObjects(list: HTMLElement, session: TrackingSession | null, active: number, actions: ObjectsPanelActions): void {
  list.replaceChildren();
  for (const [id, name] of session?.objects ?? []) {
    const li = document.createElement('li');
    li.dataset.objId = String(id);
    li.classList.toggle('active', id === active);
    const pick = Object.assign(document.createElement('input'), { type: 'radio', name: 'active-object', checked: id === active, title: 'clicks and boxes go to this object' });
    pick.addEventListener('change', () => actions.select(id));
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = objectCss(id);
    const label = Object.assign(document.createElement('input'), { type: 'text', value: name, className: 'object-name', title: 'rename' });
    label.setAttribute('aria-label', `name of object ${id}`);
    label.addEventListener('change', () => actions.rename(id, label.value.trim() || `object ${id}`));
    const frames = [...(session?.present ?? [])].filter(([, ids]) => ids.includes(id)).length;
    const count = Object.assign(document.createElement('small'), { textContent: `${frames} fr` });
    const del = Object.assign(document.createElement('button'), { type: 'button', textContent: '✕', title: `delete ${name}`, className: 'delete-object' });
    del.addEventListener('click', () => actions.remove(id));
    del.disabled = (session?.objects.size ?? 0) <= 1 && !session?.prompts.get(id)?.size;
    li.append(pick, swatch, label, count, del);
    list.append(li);
  }
}
