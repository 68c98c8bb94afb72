"""Tells what the last commits in a SQLite store's WAL wrote: frames a commit,
by table or index. Run it on a copy of a store's directory (kopir.db and its
-wal), taken after the bus was killed so the WAL was not checkpointed away:

    python3 deploy/bench/walframes.py DIR [COMMITS]

Each WAL frame names the page it holds (https://sqlite.org/fileformat.html,
"WAL File Format"); SQLite's dbstat table names the b-tree each page belongs
to. The pages are mapped on a copy, so that the store is left as it was
(closing SQLite's last connection to a database checkpoints its WAL)."""
import collections
import shutil
import sqlite3
import struct
import sys
import tempfile

src = sys.argv[1]
last = int(sys.argv[2]) if len(sys.argv) > 2 else 50

wal = open(src + "/kopir.db-wal", "rb").read()
_, _, page_size, _, salt1, salt2, _, _ = struct.unpack(">8I", wal[:32])
commits, frames, off = [], [], 32
while off + 24 + page_size <= len(wal):
    page, commit, s1, s2 = struct.unpack(">4I", wal[off:off + 16])
    if (s1, s2) != (salt1, salt2):
        break  # frames of an earlier pass over the file
    frames.append(page)
    if commit:
        commits.append(frames)
        frames = []
    off += 24 + page_size
if not commits:
    sys.exit("no commit in %s/kopir.db-wal" % src)

with tempfile.TemporaryDirectory() as tmp:
    shutil.copy(src + "/kopir.db", tmp)
    shutil.copy(src + "/kopir.db-wal", tmp)
    db = sqlite3.connect(tmp + "/kopir.db")
    owner = dict((pageno, name) for name, pageno in db.execute("SELECT name, pageno FROM dbstat"))
    db.close()

recent = commits[-last:]
count = collections.Counter(owner.get(p, "(a free page)") for c in recent for p in c)
print("page size %d; %d commits in the WAL, the last %d counted" % (page_size, len(commits), len(recent)))
for name, n in count.most_common():
    print("%6.2f  %s" % (n / len(recent), name))
print("%6.2f  frames a commit" % (sum(map(len, recent)) / len(recent)))
