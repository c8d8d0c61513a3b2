// Command summary reads the JUnit reports of conformance runs and prints, for each, how many
// of the group's [Conformance] specs passed, failed and were skipped, and the first line of
// each failure's message.
//
//	go run ./summary GROUP=REPORT.xml ...
//
// The e2e binary reports every spec it knows, those its focus left out as skipped, so only
// specs whose name carries the group and [Conformance] are counted.
package main

import (
	"encoding/xml"
	"fmt"
	"os"
	"sort"
	"strings"
)

type suites struct {
	Suites []suite `xml:"testsuite"`
}

type suite struct {
	Cases []testCase `xml:"testcase"`
}

type testCase struct {
	Name    string   `xml:"name,attr"`
	Status  string   `xml:"status,attr"`
	Time    float64  `xml:"time,attr"`
	Failure *message `xml:"failure"`
	Error   *message `xml:"error"`
	Skipped *message `xml:"skipped"`
}

type message struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// outcome is one counted spec.
type outcome struct {
	name, state, reason string
	seconds             float64
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: summary GROUP=REPORT.xml ...")
		os.Exit(2)
	}
	total := map[string]int{}
	for _, arg := range os.Args[1:] {
		group, path, ok := strings.Cut(arg, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "summary: %q is not GROUP=REPORT.xml\n", arg)
			os.Exit(2)
		}
		specs, err := read(group, path)
		if err != nil {
			fmt.Printf("%s: no report (%v)\n\n", group, err)
			continue
		}
		count := map[string]int{}
		var seconds float64
		for _, s := range specs {
			count[s.state]++
			total[s.state]++
			seconds += s.seconds
		}
		fmt.Printf("%s: %d passed, %d failed, %d skipped (%d specs, %.0f s in specs)\n",
			group, count["passed"], count["failed"], count["skipped"], len(specs), seconds)
		for _, s := range specs {
			if s.state == "failed" {
				fmt.Printf("  FAIL %s\n       %s\n", s.name, s.reason)
			}
		}
		fmt.Println()
	}
	if len(os.Args) > 2 {
		fmt.Printf("all: %d passed, %d failed, %d skipped\n", total["passed"], total["failed"], total["skipped"])
	}
}

// read returns the group's conformance specs in report order; setup failures (BeforeSuite and
// the like) count as failed specs so that a run which never started its specs says so.
func read(group, path string) ([]outcome, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc suites
	if err := xml.Unmarshal(data, &doc); err != nil {
		// A report of one suite has no <testsuites> wrapper.
		var one suite
		if err2 := xml.Unmarshal(data, &one); err2 != nil {
			return nil, err
		}
		doc.Suites = []suite{one}
	}
	var out []outcome
	for _, st := range doc.Suites {
		for _, c := range st.Cases {
			name := strings.TrimPrefix(c.Name, "[It] ")
			spec := strings.Contains(name, "["+group+"]") && strings.Contains(name, "[Conformance]")
			setup := strings.HasPrefix(c.Name, "[") && !strings.HasPrefix(c.Name, "[It]") && c.Status != "passed" && c.Status != "skipped"
			if !spec && !setup {
				continue
			}
			o := outcome{name: name, seconds: c.Time}
			switch c.Status {
			case "passed":
				o.state = "passed"
			case "skipped", "pending":
				o.state = "skipped"
			default:
				o.state = "failed"
				o.reason = c.Status
				if m := c.Failure; m != nil {
					o.reason = firstLine(m.Message, m.Text, c.Status)
				} else if m := c.Error; m != nil {
					o.reason = firstLine(m.Message, m.Text, c.Status)
				}
			}
			out = append(out, o)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// firstLine is the first non-blank line of the failure's message (or its text).
func firstLine(texts ...string) string {
	for _, t := range texts {
		for _, l := range strings.Split(t, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				return l
			}
		}
	}
	return ""
}
