// Scopes of device storages, for fl.tidy(). A backend whose memory must be
// freed by hand (webgpu) reports each storage it allocates; the innermost
// open scope collects it, and closing the scope releases every storage it
// collected except those the caller keeps. CPU storages are plain typed
// arrays that the garbage collector frees, so they never enter a scope.

/** A storage whose memory can be given back before it is garbage-collected. */
export interface Releasable {
  release(): void;
  readonly isReleased: boolean;
}

const scopes: Set<Releasable>[] = [];
// Storages that no scope may release (fl.keep): module parameters,
// gradients, optimizer state. Weak, so keeping never holds memory alive.
const kept = new WeakSet<Releasable>();

// Every releasable storage gets a serial number when it is allocated, so the
// autograd engine can tell the gradients it made from tensors it was handed.
let serial = 0;
const born = new WeakMap<Releasable, number>();

/** Called by a backend for each storage it allocates. */
export function trackAlloc(s: Releasable): void {
  born.set(s, ++serial);
  const top = scopes[scopes.length - 1];
  if (top !== undefined && !kept.has(s)) top.add(s);
}

/** Whether the storage is releasable memory (a device storage). */
export function isReleasable(s: object): s is Releasable {
  return typeof (s as Partial<Releasable>).release === "function";
}

/** The serial number of the latest allocation. */
export function allocationMark(): number {
  return serial;
}

/** Whether `s` was allocated after `mark` was taken. */
export function bornAfter(s: Releasable, mark: number): boolean {
  return (born.get(s) ?? 0) > mark;
}

/** Removes a storage from every open scope, now and later. */
export function keepStorage(s: Releasable): void {
  kept.add(s);
  for (const scope of scopes) scope.delete(s);
}

export function openScope(): void {
  scopes.push(new Set());
}

/**
 * Closes the innermost scope: releases what it collected except `survivors`,
 * which move to the enclosing scope (an outer tidy frees them unless it
 * returns them too).
 */
export function closeScope(survivors: ReadonlySet<Releasable>): void {
  const scope = scopes.pop();
  if (!scope) return;
  const outer = scopes[scopes.length - 1];
  for (const s of scope) {
    if (survivors.has(s)) outer?.add(s);
    else s.release();
  }
}

/** How many scopes are open (tests). */
export function scopeDepth(): number {
  return scopes.length;
}

/** What a device holds now: tensors (storages) and bytes, plus the backend's own counters. */
export interface DeviceMemory {
  /** Live storages on the device (views share one). */
  tensors: number;
  /** Bytes they hold. */
  bytes: number;
  [counter: string]: number;
}

const reporters = new Map<string, () => DeviceMemory>();

/** A backend that manages memory says how much it holds (the latest registration wins). */
export function registerMemoryReporter(device: string, report: () => DeviceMemory): void {
  reporters.set(device, report);
}

export function memoryReports(): Record<string, DeviceMemory> {
  return Object.fromEntries([...reporters].map(([d, r]) => [d, r()]));
}
