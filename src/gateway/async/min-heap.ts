/**
 * A binary min-heap: push and pop in O(log n), peek in O(1). The async worker keeps waiting
 * requests in one, by due time, so a wake-up costs O(log n) per request it starts rather than
 * a sort of the whole queue.
 *
 * @example
 * ```ts
 * const heap = new MinHeap<number>((a, b) => a - b);
 * heap.push(3);
 * heap.push(1);
 * heap.pop(); // 1
 * ```
 */
export class MinHeap<T> {
  readonly #items: T[] = [];
  readonly #compare: (a: T, b: T) => number;

  /** `compare` orders like `Array.prototype.sort`'s: negative when `a` comes first. */
  constructor(compare: (a: T, b: T) => number) {
    this.#compare = compare;
  }

  get size(): number {
    return this.#items.length;
  }

  /** The first item, left in place. */
  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const items = this.#items;
    items.push(item);
    let index = items.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (this.#compare(items[index] as T, items[parent] as T) >= 0) break;
      this.#swap(index, parent);
      index = parent;
    }
  }

  /** Removes and returns the first item. */
  pop(): T | undefined {
    const items = this.#items;
    const first = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return first;
    items[0] = last;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < items.length && this.#compare(items[left] as T, items[smallest] as T) < 0) smallest = left;
      if (right < items.length && this.#compare(items[right] as T, items[smallest] as T) < 0) smallest = right;
      if (smallest === index) return first;
      this.#swap(index, smallest);
      index = smallest;
    }
  }

  #swap(a: number, b: number): void {
    const items = this.#items;
    const held = items[a] as T;
    items[a] = items[b] as T;
    items[b] = held;
  }
}
