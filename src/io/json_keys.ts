// JSON.parse keeps the last of two equal keys without a word, so a header
// could name one tensor twice and hide the first. This scan runs over text
// JSON.parse has already accepted, and only tracks which strings are keys.
import { FormatError } from "../errors.js";

interface Frame {
  keys: Set<string> | null; // null for arrays
  expectKey: boolean;
}

/** Throws a FormatError if any object in the (valid) JSON text repeats a key. */
export function checkNoDuplicateKeys(text: string, what: string): void {
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{") stack.push({ keys: new Set(), expectKey: true });
    else if (c === "[") stack.push({ keys: null, expectKey: false });
    else if (c === "}" || c === "]") stack.pop();
    else if (c === ",") {
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectKey = true;
    } else if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key))
          throw new FormatError(`${what}: duplicate key ${JSON.stringify(key)}`);
        top.keys.add(key);
        top.expectKey = false;
      }
      i = j;
    }
  }
}
