package cli

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// dropStartupPages releases the read-only pages of skiff's own executable that start-up touched.
//
// Linking kubectl in means package initialisation faults in tens of megabytes of code and
// read-only data (each fault maps a whole fault-around window) that a running server never uses
// again. MADV_DONTNEED on those private, clean, file-backed mappings unmaps them from this
// process; the kernel keeps them in its page cache and the few that are used again come back
// with a minor fault. Heap and writable data are untouched. It reports how many bytes it
// released; errors are only informative.
func dropStartupPages() (int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("cli: find executable: %w", err)
	}
	maps, err := cleanExecutableMappings(exe)
	if err != nil {
		return 0, err
	}
	var released int64
	for _, m := range maps {
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, syscall.MADV_DONTNEED); errno != 0 {
			return released, fmt.Errorf("cli: madvise %x-%x: %w", m.start, m.end, errno)
		}
		released += int64(m.end - m.start)
	}
	return released, nil
}

type mapping struct{ start, end uintptr }

// cleanExecutableMappings returns exe's read-only mappings that hold no private copy of any page
// (no Private_Dirty, no Anonymous): dropping those loses nothing. A read-only mapping that was
// written before it was protected (relocations) is dirty and is left alone.
func cleanExecutableMappings(exe string) ([]mapping, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return nil, fmt.Errorf("cli: read mappings: %w", err)
	}
	defer f.Close()
	var out []mapping
	var cur *mapping
	clean := false
	flush := func() {
		if cur != nil && clean {
			out = append(out, *cur)
		}
		cur = nil
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			flush()
			if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") {
				continue
			}
			var m mapping
			if _, err := fmt.Sscanf(fields[0], "%x-%x", &m.start, &m.end); err != nil {
				continue
			}
			cur, clean = &m, true
			continue
		}
		if cur == nil || len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "Private_Dirty:", "Anonymous:", "Swap:":
			if fields[1] != "0" {
				clean = false
			}
		}
	}
	flush()
	return out, sc.Err()
}
