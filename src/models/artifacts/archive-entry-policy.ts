import { posix } from "node:path";
import type { ReadEntry } from "tar";
import { ModelArchiveError } from "../../errors.js";
import type { ArchiveLimits } from "./model-archive.js";

/**
 * What one admitted archive entry asks to create, with its path relative to the extraction
 * directory ("" is the directory itself). `mode` holds permission bits only: setuid, setgid and
 * sticky bits are dropped, and the owner can always read and write.
 *
 * @example
 * ```ts
 * const planned: PlannedEntry = { kind: "symlink", path: "current", target: "v2" };
 * ```
 */
export type PlannedEntry =
  | { readonly kind: "directory"; readonly path: string; readonly mode: number }
  | { readonly kind: "file"; readonly path: string; readonly mode: number }
  | { readonly kind: "symlink"; readonly path: string; readonly target: string }
  | { readonly kind: "hardlink"; readonly path: string; readonly target: string };

type TreeNode = "file" | "directory" | "symlink";

// OldFile (pre-POSIX type flag "\0") and ContiguousFile are regular files to every tar reader.
const regularFileTypes = new Set(["File", "OldFile", "ContiguousFile"]);
const allowedTypes = new Set([...regularFileTypes, "Directory", "SymbolicLink", "Link"]);
const forbiddenTypeNames: Readonly<Record<string, string>> = {
  CharacterDevice: "a character device",
  BlockDevice: "a block device",
  FIFO: "a FIFO",
  GNUDumpDir: "a GNU dump directory",
  SparseFile: "a GNU sparse file",
};
/**
 * What any archive may extract whatever its expansion: small archives of compressible files (a
 * config, a vocabulary) are never refused by the ratio; a bomb is stopped once it writes this much.
 */
const expansionAllowanceBytes = 64 * 1024 * 1024;
// Linux's own limit on symbolic links followed while resolving one path (ELOOP).
const maxSymlinkHops = 40;

/**
 * Decides, entry by entry, whether a tar archive may be extracted, refusing (never rewriting) any
 * entry that could write outside the extraction directory or past the limits. It keeps a model of
 * the tree extracted so far, so that links are judged against what they will really resolve to.
 *
 * Rules: only files, directories, symbolic links and hard links; no absolute paths and no `..`
 * components; no entry written through a symbolic link or appearing twice; symbolic links must
 * resolve inside the directory, following the links they pass through; hard links must name a
 * file extracted before them.
 *
 * @example
 * ```ts
 * const policy = new ArchiveEntryPolicy("model.tar.gz", 1_048_576, defaultArchiveLimits, new Set());
 * const parser = new Parser({ onReadEntry: (entry) => console.log(policy.admit(entry)) });
 * ```
 */
export class ArchiveEntryPolicy {
  /** Entries counted so far. */
  entries = 0;
  readonly #archive: string;
  readonly #archiveBytes: number;
  readonly #limits: ArchiveLimits;
  readonly #reservedNames: ReadonlySet<string>;
  #declaredBytes = 0;
  readonly #nodes = new Map<string, TreeNode>();
  // Keyed by foldPath: on case-insensitive file systems (macOS, for local runs) "Lib" opens "lib".
  readonly #symlinks = new Map<string, { path: string; target: string }>();

  constructor(archive: string, archiveBytes: number, limits: ArchiveLimits, reservedNames: ReadonlySet<string>) {
    this.#archive = archive;
    this.#archiveBytes = archiveBytes;
    this.#limits = limits;
    this.#reservedNames = reservedNames;
  }

  /**
   * Counts `entry` against `maxEntries` and its declared size against the byte limits, as soon as
   * its header is read: call it from the parser's `entry` event, which comes as the archive
   * streams by, ahead of the entries being written. Throws {@link ModelArchiveError} past a limit.
   */
  count(entry: ReadEntry): void {
    const subject = `entry ${quote(entry.path)}`;
    this.entries += 1;
    if (this.entries > this.#limits.maxEntries) {
      throw this.refuse(`${subject} is past the limit of ${this.#limits.maxEntries} entries (maxEntries)`);
    }
    if (!regularFileTypes.has(entry.type)) return;
    this.#declaredBytes += entry.size;
    this.checkExtractedBytes(this.#declaredBytes, `${subject} (${entry.size} bytes) would bring`);
  }

  /**
   * Checks `entry` (counted already) against the rules and everything admitted before it, records
   * it, and returns what to create. Throws {@link ModelArchiveError} naming the entry and the rule
   * it breaks.
   */
  admit(entry: ReadEntry): PlannedEntry {
    const subject = `entry ${quote(entry.path)}`;
    if (!allowedTypes.has(entry.type)) throw this.refuseType(entry);
    const parts = this.#splitPath(entry.path, subject);
    const path = parts.join("/");
    if (path === "") {
      if (entry.type === "Directory") return { kind: "directory", path, mode: directoryMode(entry.mode) };
      throw this.refuse(`${subject} names the extraction directory itself`);
    }
    if (parts.length === 1 && this.#reservedNames.has(path)) {
      throw this.refuse(`${subject} uses a name the toolkit reserves for its own files`);
    }
    this.#checkParents(parts, subject);
    const existing = this.#nodes.get(path);
    if (existing !== undefined && !(existing === "directory" && entry.type === "Directory")) {
      throw this.refuse(`${subject} appears more than once`);
    }

    if (entry.type === "Directory") {
      this.#nodes.set(path, "directory");
      return { kind: "directory", path, mode: directoryMode(entry.mode) };
    }
    if (entry.type === "SymbolicLink") return this.#admitSymlink(path, entry.linkpath ?? "");
    if (entry.type === "Link") return this.#admitHardLink(path, entry.linkpath ?? "");

    this.#nodes.set(path, "file");
    return { kind: "file", path, mode: fileMode(entry.mode) };
  }

  /**
   * Throws when `total` extracted bytes pass `maxBytes`, or `maxExpansionRatio` times the
   * archive's size once past the first 64 MiB; `subject` starts the message (`entry "x" brings`).
   */
  checkExtractedBytes(total: number, subject: string): void {
    const { maxBytes, maxExpansionRatio } = this.#limits;
    if (total > maxBytes) throw this.refuse(`${subject} the extracted size past the limit of ${maxBytes} bytes (maxBytes)`);
    if (total > Math.max(maxExpansionRatio * this.#archiveBytes, expansionAllowanceBytes)) {
      throw this.refuse(
        `${subject} the extracted size past ${maxExpansionRatio} times the archive's ${this.#archiveBytes} bytes (maxExpansionRatio), like a decompression bomb`,
      );
    }
  }

  /**
   * Resolves every symbolic link again against the complete tree. A link can be harmless when it
   * arrives and escape once a later entry adds a link it passes through (`a -> b/..`, then
   * `b -> .`), so this runs after the last entry, before the extraction is used.
   */
  checkSymlinksAgainstTree(): void {
    for (const { path, target } of this.#symlinks.values()) this.#checkSymlinkTarget(path, target);
  }

  /** The error for an entry tar itself skips: metadata too large to read, or an unknown type. */
  refuseType(entry: ReadEntry): ModelArchiveError {
    const subject = `entry ${quote(entry.path)}`;
    if (entry.meta) return this.refuse(`${subject} has a ${entry.type} metadata record larger than tar reads`);
    const what =
      forbiddenTypeNames[entry.type] ?? (entry.type === "Unsupported" ? "of an unknown type" : `of unsupported type ${quote(entry.type)}`);
    return this.refuse(`${subject} is ${what}; only files, directories, symbolic links and hard links are allowed`);
  }

  /** A {@link ModelArchiveError} whose message starts with the archive's path. */
  refuse(problem: string, cause?: unknown): ModelArchiveError {
    return new ModelArchiveError(`${this.#archive}: ${problem}`, cause === undefined ? undefined : { cause });
  }

  #admitSymlink(path: string, target: string): PlannedEntry {
    this.#checkLength(target, `symbolic link ${quote(path)}`);
    this.#nodes.set(path, "symlink");
    this.#symlinks.set(foldPath(path), { path, target });
    this.#checkSymlinkTarget(path, target);
    return { kind: "symlink", path, target };
  }

  #admitHardLink(path: string, target: string): PlannedEntry {
    const subject = `hard link ${quote(path)}`;
    this.#checkLength(target, subject);
    const normalized = posix.normalize(target);
    if (target.startsWith("/") || normalized === ".." || normalized.startsWith("../")) {
      throw this.refuse(`${subject} points outside the extraction directory (to ${quote(target)})`);
    }
    const targetPath = this.#splitPath(target, `${subject} target`).join("/");
    // A file admitted earlier sits under real directories only (#checkParents), so no symbolic
    // link can redirect the hard link.
    if (this.#nodes.get(targetPath) !== "file") {
      throw this.refuse(`${subject} points to ${quote(target)}, which is not a file extracted before it`);
    }
    this.#nodes.set(path, "file");
    return { kind: "hardlink", path, target: targetPath };
  }

  #checkSymlinkTarget(path: string, target: string): void {
    const subject = `symbolic link ${quote(path)}`;
    if (target.includes("\0")) throw this.refuse(`${subject} has a target with a NUL byte`);
    const resolved = this.#resolve(posix.dirname(path), target, subject);
    if (resolved === undefined) {
      throw this.refuse(`${subject} points outside the extraction directory (to ${quote(target)})`);
    }
  }

  /**
   * Walks `target` from `directory` like the kernel would, following the links admitted so far;
   * undefined when the walk leaves the extraction directory.
   */
  #resolve(directory: string, target: string, subject: string): string[] | undefined {
    if (target.startsWith("/")) return undefined;
    const resolved = directory === "." ? [] : directory.split("/");
    const pending = target.split("/");
    let hops = 0;
    for (let part = pending.shift(); part !== undefined; part = pending.shift()) {
      if (part === "" || part === ".") continue;
      if (part === "..") {
        if (resolved.pop() === undefined) return undefined;
        continue;
      }
      resolved.push(part);
      const link = this.#symlinks.get(foldPath(resolved.join("/")));
      if (link === undefined) continue;
      hops += 1;
      if (hops > maxSymlinkHops) throw this.refuse(`${subject} resolves through more than ${maxSymlinkHops} symbolic links`);
      if (link.target.startsWith("/")) return undefined;
      resolved.pop();
      pending.unshift(...link.target.split("/"));
    }
    return resolved;
  }

  #splitPath(raw: string, subject: string): string[] {
    this.#checkLength(raw, subject);
    if (raw.includes("\0")) throw this.refuse(`${subject} has a NUL byte in its path`);
    if (raw.startsWith("/")) throw this.refuse(`${subject} has an absolute path`);
    const parts = raw.split("/").filter((part) => part !== "" && part !== ".");
    if (parts.includes("..")) {
      const normalized = posix.normalize(raw);
      if (normalized === ".." || normalized.startsWith("../")) {
        throw this.refuse(`${subject} escapes the extraction directory`);
      }
      throw this.refuse(`${subject} has a ".." component`);
    }
    return parts;
  }

  #checkLength(raw: string, subject: string): void {
    if (Buffer.byteLength(raw) > this.#limits.maxPathLength) {
      throw this.refuse(`${subject} has a path longer than ${this.#limits.maxPathLength} bytes (maxPathLength)`);
    }
  }

  #checkParents(parts: readonly string[], subject: string): void {
    for (let length = 1; length < parts.length; length += 1) {
      const parent = parts.slice(0, length).join("/");
      if (this.#symlinks.has(foldPath(parent))) {
        throw this.refuse(`${subject} would be written through symbolic link ${quote(parent)}`);
      }
      const node = this.#nodes.get(parent);
      if (node !== undefined && node !== "directory") {
        throw this.refuse(`${subject} is inside ${quote(parent)}, which is not a directory`);
      }
      this.#nodes.set(parent, "directory");
    }
  }
}

// JSON quoting keeps hostile names (newlines, control characters) readable in one log line.
function quote(value: string): string {
  return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
}

function foldPath(path: string): string {
  return path.normalize("NFC").toLowerCase();
}

function fileMode(mode: number | undefined): number {
  return ((mode ?? 0o644) & 0o777) | 0o600;
}

function directoryMode(mode: number | undefined): number {
  return ((mode ?? 0o755) & 0o777) | 0o700;
}
