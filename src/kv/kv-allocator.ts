/**
 * KV page allocator: a free list of page ids and one page table per request.
 *
 * It is owned by the scheduler actor and runs on its thread (every forward step needs page tables
 * synchronously; a cross-thread hop per allocation would cost more than the allocation). Invariant,
 * checked by `assertConsistent` in tests: free pages + pages held by tables = total, and no page is
 * in two places. The free list is a stack, so recently freed (cache-warm) pages are reused first.
 * Tables are Int32Arrays grown by doubling, and `table()` returns a view, so a forward step reads
 * page tables without copying them.
 */

interface PageTable {
  pages: Int32Array;
  length: number;
}
const EMPTY = new Int32Array(0);

export class KvAllocator {
  private readonly free: Int32Array;
  private freeCount: number;
  private readonly tables = new Map<string, PageTable>();

  constructor(readonly totalPages: number, readonly pageSize: number) {
    this.free = new Int32Array(totalPages);
    // Push in reverse so the first allocations get pages 0, 1, 2, ...: adjacent pages keep runs long.
    for (let i = 0; i < totalPages; i++) this.free[i] = totalPages - 1 - i;
    this.freeCount = totalPages;
  }

  get freePages(): number {
    return this.freeCount;
  }

  get tableCount(): number {
    return this.tables.size;
  }

  pagesFor(tokens: number): number {
    return Math.ceil(tokens / this.pageSize);
  }

  /** Pages `owner` would need to add to cover `tokens` tokens. */
  missingPages(owner: string, tokens: number): number {
    return Math.max(0, this.pagesFor(tokens) - (this.tables.get(owner)?.length ?? 0));
  }

  /**
   * Grows `owner`'s table to cover `tokens` tokens. All or nothing: returns false (allocating
   * nothing) when too few pages are free.
   */
  ensure(owner: string, tokens: number): boolean {
    const need = this.missingPages(owner, tokens);
    if (need > this.freeCount) return false;
    if (need === 0) return true;
    let table = this.tables.get(owner);
    if (!table) {
      table = { pages: new Int32Array(Math.max(4, need)), length: 0 };
      this.tables.set(owner, table);
    }
    if (table.length + need > table.pages.length) {
      const grown = new Int32Array(Math.max(table.pages.length * 2, table.length + need));
      grown.set(table.pages.subarray(0, table.length));
      table.pages = grown;
    }
    for (let i = 0; i < need; i++) table.pages[table.length++] = this.free[--this.freeCount];
    return true;
  }

  /** `owner`'s page ids, in position order: a view, valid until the table next grows or is released. */
  table(owner: string): Int32Array {
    const table = this.tables.get(owner);
    return table ? table.pages.subarray(0, table.length) : EMPTY;
  }

  /** Returns every page of `owner` to the free list; a no-op for an unknown owner. */
  release(owner: string): void {
    const table = this.tables.get(owner);
    if (!table) return;
    for (let i = table.length - 1; i >= 0; i--) this.free[this.freeCount++] = table.pages[i];
    this.tables.delete(owner);
  }

  assertConsistent(): void {
    const seen = new Uint8Array(this.totalPages);
    const mark = (p: number, where: string): void => {
      if (p < 0 || p >= this.totalPages || seen[p]) throw new Error(`KV allocator corrupt: page ${p} (${where})`);
      seen[p] = 1;
    };
    for (let i = 0; i < this.freeCount; i++) mark(this.free[i], 'free list');
    for (const [owner, table] of this.tables) for (const p of table.pages.subarray(0, table.length)) mark(p, owner);
    const held = [...this.tables.values()].reduce((n, t) => n + t.length, 0);
    if (held + this.freeCount !== this.totalPages) throw new Error('KV allocator corrupt: pages lost');
  }
}
