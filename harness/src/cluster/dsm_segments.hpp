// POSIX dynamic shared memory segments (/dev/shm/PostgreSQL.<handle>) that PostgreSQL processes
// left behind. The harness's servers keep theirs in the data directory (dynamic_shared_memory_type
// = mmap), but initdb runs its bootstrap and single-user backends with POSIX segments (the mmap
// setting is written into the template after initdb): a backend that aborts (a PANIC when the disk
// fills) or is killed leaves them in RAM until the machine reboots.
#pragma once

#include <sys/types.h>

#include <ctime>

namespace pg_unit_tests::cluster {

inline constexpr const char* kDsmDirectory = "/dev/shm";

// Removes the segments in kDsmDirectory owned by `uid`, changed at or after `since`, that no
// process has open or mapped: nothing can attach to them any more (PostgreSQL creates, sizes and
// maps a segment in one call; a segment pinned while nobody maps it exists only in servers that
// use POSIX segments, which the harness's are not). Through the directory's descriptor, each only
// while still the file examined; returns how many.
int remove_abandoned_segments(uid_t uid, std::time_t since);

}  // namespace pg_unit_tests::cluster
