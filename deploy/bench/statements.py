"""Writes n large camt.053 statements from deploy/bench/camt053.xml (a
statement the payments mock pushed): its entries repeated up to the size
asked, each document with its own message id so none is a duplicate."""
import sys

template, out_dir, n, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
doc = open(template, encoding="utf-8").read()
first, last = doc.index("    <Ntry>"), doc.rindex("</Ntry>\n") + len("</Ntry>\n")
entries = doc[first:last]
copies = max(1, (size - len(doc)) // len(entries) + 1)
big = doc[:first] + entries * copies + doc[last:]
msg_id = doc.split("<MsgId>", 1)[1].split("</MsgId>", 1)[0]
for i in range(n):
    own = "BENCH%s%04d" % (msg_id[5:-4], i)
    with open("%s/statement%d.xml" % (out_dir, i), "w", encoding="utf-8") as f:
        f.write(big.replace(msg_id, own))
print(len(big.encode("utf-8")))
