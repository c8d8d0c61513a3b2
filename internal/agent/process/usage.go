package process

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Usage is what a container's processes have used: CPU time since they started (with that of
// their children they reaped) and resident memory now.
type Usage struct {
	CPU    time.Duration
	Memory uint64 // resident set size in bytes, summed over the container's processes
}

// userHZ is the unit of CPU times in /proc/<pid>/stat (USER_HZ: 100 on every Linux ABI Go
// supports).
const userHZ = 100

// Usage measures the running containers among ids. A container is its process group (the
// leader was started with Setpgid), so every process whose group is the leader's counts; /proc
// is read once for all of them. Containers that are not running are left out.
func (r *Runtime) Usage(ids []string) map[string]Usage {
	groups := map[int]string{}
	r.mu.Lock()
	for _, id := range ids {
		if c, ok := r.containers[id]; ok {
			c.mu.Lock()
			if c.state.Running {
				groups[c.state.PID] = id
			}
			c.mu.Unlock()
		}
	}
	r.mu.Unlock()
	out := make(map[string]Usage, len(groups))
	if len(groups) == 0 {
		return out
	}
	for pgid, u := range readGroups("/proc", groups) {
		out[groups[pgid]] = u
	}
	return out
}

// readGroups sums the usage of every process under proc whose process group is a key of
// groups. Processes that exit while it reads are skipped.
func readGroups(proc string, groups map[int]string) map[int]Usage {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil
	}
	page := uint64(os.Getpagesize())
	out := map[int]Usage{}
	for _, e := range entries {
		name := e.Name()
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(proc, name, "stat"))
		if err != nil {
			continue
		}
		st, err := parseStat(raw)
		if err != nil {
			continue
		}
		if _, ok := groups[st.pgrp]; !ok {
			continue
		}
		u := out[st.pgrp]
		u.CPU += time.Duration(st.ticks) * time.Second / userHZ
		u.Memory += st.rssPages * page
		out[st.pgrp] = u
	}
	return out
}

type usageStat struct {
	pgrp     int
	ticks    uint64 // utime + stime + cutime + cstime
	rssPages uint64
}

// parseStat reads the fields of /proc/<pid>/stat that usage needs. The command name (field 2)
// is in parentheses and may hold spaces or parentheses, so fields are counted after the last ')'.
func parseStat(raw []byte) (usageStat, error) {
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return usageStat{}, errors.New("process: malformed stat")
	}
	f := strings.Fields(string(raw[i+1:]))
	// f[0] is field 3 (state): field n is f[n-3].
	if len(f) < 22 {
		return usageStat{}, errors.New("process: short stat")
	}
	num := func(n int) uint64 {
		v, _ := strconv.ParseUint(f[n-3], 10, 64)
		return v
	}
	pgrp, err := strconv.Atoi(f[5-3])
	if err != nil {
		return usageStat{}, fmt.Errorf("process: stat pgrp: %w", err)
	}
	return usageStat{pgrp: pgrp, ticks: num(14) + num(15) + num(16) + num(17), rssPages: num(24)}, nil
}

// NodeUsage is what the whole machine has used: CPU time spent busy since boot, summed over
// every CPU, and memory in use now.
type NodeUsage struct {
	CPU    time.Duration
	Memory uint64 // MemTotal - MemAvailable, in bytes
}

// ReadNodeUsage reads the machine's usage from /proc/stat and /proc/meminfo.
func ReadNodeUsage() (NodeUsage, error) {
	return readNodeUsage("/proc")
}

func readNodeUsage(proc string) (NodeUsage, error) {
	var u NodeUsage
	raw, err := os.ReadFile(filepath.Join(proc, "stat"))
	if err != nil {
		return u, fmt.Errorf("process: read node cpu: %w", err)
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return u, errors.New("process: unexpected /proc/stat")
	}
	// user nice system idle iowait irq softirq steal (guest time is already in user): busy is
	// everything but idle and iowait.
	var busy uint64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 {
			continue
		}
		n, _ := strconv.ParseUint(v, 10, 64)
		busy += n
	}
	u.CPU = time.Duration(busy) * time.Second / userHZ

	mem, err := os.Open(filepath.Join(proc, "meminfo"))
	if err != nil {
		return u, fmt.Errorf("process: read node memory: %w", err)
	}
	defer mem.Close()
	var total, available uint64
	sc := bufio.NewScanner(mem)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "MemTotal":
			total = kb * 1024
		case "MemAvailable":
			available = kb * 1024
		}
	}
	if total == 0 {
		return u, errors.New("process: no MemTotal in /proc/meminfo")
	}
	u.Memory = total - min(available, total)
	return u, nil
}
