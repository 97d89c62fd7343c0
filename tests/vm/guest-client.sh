# Two hosts on one memory, the client's side: its kernel found the devdax
# device the master configured; it reads, is refused appends, and sees a
# file the master creates while a reader runs, without remounting.
. "$(dirname "$0")/lib.sh"
export FAMFS_MOUNTS=/tmp/famfs/mounts FAMFS_SYSTEM_UUID_FILE=/tmp/famfs/system_uuid
mkdir -p /tmp/famfs
echo 22222222-2222-4222-8222-222222222222 > /tmp/famfs/system_uuid
M=/mnt/famfs
if [ -e /dev/dax0.0 ]; then ok devdax_found_at_boot; else step devdax devdax namespace0.0; fi
step mount famfs mount /dev/dax0.0 $M
step verify_first famfs verify -S 1 -f $M/first.bin
expect_fail creat_refused "master" famfs creat -s 1m $M/nope.bin
expect_fail mkdir_refused "master" famfs mkdir $M/nope
# A reader started now, under the shim, waits for the master's next file.
shim "$PY" - $M <<'PYEOF' > /tmp/reader.out 2>&1 &
import os, sys, time
m = sys.argv[1]
print("listing before:", sorted(os.listdir(m)), flush=True)
open("/tmp/sync/client-reading", "w").close()
for _ in range(600):
    if os.path.exists("/tmp/sync/second-created"):
        break
    time.sleep(0.2)
data = open(m + "/second.bin", "rb").read()
print("second.bin", len(data), "bytes; later is a dir:", os.path.isdir(m + "/later"))
print("listing after:", sorted(os.listdir(m)))
PYEOF
reader=$!
wait $reader && ok reader_saw_new_file || fail reader_saw_new_file "$(cat /tmp/reader.out)"
sed 's/^/    /' /tmp/reader.out
grep -q "second.bin 3145728 bytes; later is a dir: True" /tmp/reader.out \
    && ok reader_same_process_sees_second || fail reader_same_process_sees_second "see output"
step verify_second famfs verify -S 2 -f $M/second.bin
step fsck_client famfs fsck $M
touch /tmp/sync/client-done
finish client
