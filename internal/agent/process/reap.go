package process

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ReapLeftovers kills what containers of an earlier agent left in dir's state files: a crashed
// agent's children died with it (PR_SET_PDEATHSIG), but their own children may live on in the
// same process groups. Processes are matched by process group and by having started no earlier
// than the recorded leader, so a recycled PID is never mistaken for a leftover. It returns the
// number of processes killed.
func ReapLeftovers(dir string) (int, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return 0, err
	}
	if len(files) == 0 {
		return 0, nil
	}
	groups := map[int]int64{} // pgid -> start tick of its leader
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil {
			var sf stateFile
			if json.Unmarshal(data, &sf) == nil && sf.PGID > 1 {
				groups[sf.PGID] = sf.StartTick
			}
		}
		os.Remove(f)
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	killed := 0
	self := os.Getpid()
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == self {
			continue
		}
		pgrp, start, ok := procStat(pid)
		if !ok {
			continue
		}
		if leaderStart, ok := groups[pgrp]; ok && start >= leaderStart {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed++
			}
		}
	}
	return killed, nil
}

// startTick is pid's start time in clock ticks since boot, 0 if unknown.
func startTick(pid int) int64 {
	_, t, _ := procStat(pid)
	return t
}

// procStat reads a process's process group and start time from /proc/<pid>/stat.
func procStat(pid int) (pgrp int, start int64, ok bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	s := string(data)
	// The command name may contain spaces and parentheses; fields resume after the last ')'.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): pgrp is field 5, starttime field 22.
	if len(f) < 20 {
		return 0, 0, false
	}
	pgrp, err1 := strconv.Atoi(f[2])
	start, err2 := strconv.ParseInt(f[19], 10, 64)
	return pgrp, start, err1 == nil && err2 == nil
}
