# Two hosts on one memory, the master's side: formats the shared device,
# creates a file, waits for the client, creates another while it runs.
. "$(dirname "$0")/lib.sh"
export FAMFS_MOUNTS=/tmp/famfs/mounts FAMFS_SYSTEM_UUID_FILE=/tmp/famfs/system_uuid
mkdir -p /tmp/famfs
echo 11111111-1111-4111-8111-111111111111 > /tmp/famfs/system_uuid
M=/mnt/famfs
step devdax devdax namespace0.0
step mkfs famfs mkfs /dev/dax0.0
step mount famfs mount /dev/dax0.0 $M
step creat_first famfs creat -S 1 -s 5m $M/first.bin
touch /tmp/sync/master-ready
wait_for client-reading || fail wait_client "no client"
step creat_second famfs creat -S 2 -s 3m $M/second.bin
step mkdir_later famfs mkdir $M/later
touch /tmp/sync/second-created
wait_for client-done || fail wait_client_done "client did not finish"
finish master
