/** Sorted arrays of repository names in catalog order (compareRepositoryNames), edited in place. */
import { compareRepositoryNames } from './catalog.js';

/** Inserts `name` into sorted `names`; false when it was there. */
export function insertSorted(names: string[], name: string): boolean {
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareRepositoryNames(names[mid] as string, name);
    if (c === 0) return false;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  names.splice(lo, 0, name);
  return true;
}

export function mergeSorted(a: readonly string[], b: readonly string[]): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length) out.push(a[i++] as string);
    else if (i >= a.length) out.push(b[j++] as string);
    else {
      const c = compareRepositoryNames(a[i] as string, b[j] as string);
      if (c === 0) {
        out.push(a[i++] as string);
        j++;
      } else if (c < 0) out.push(a[i++] as string);
      else out.push(b[j++] as string);
    }
  }
  return out;
}

/** Removes `name` from sorted `names`; false when it was not there. */
export function removeSorted(names: string[], name: string): boolean {
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareRepositoryNames(names[mid] as string, name);
    if (c === 0) {
      names.splice(mid, 1);
      return true;
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return false;
}
