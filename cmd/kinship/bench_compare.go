//go:build !nodev

package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// benchFigure is one number of a recorded benchmark table.
type benchFigure struct {
	key    string  // section, table title, row and column
	value  float64 // in seconds, bytes or as written
	text   string  // the cell as recorded
	higher bool    // whether a higher value is better
}

// compareBench reads two files `kinship bench ... -out` wrote and prints
// every figure both hold that got worse by more than -threshold; it fails
// when there is any.
func compareBench(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("kinship bench compare", flag.ContinueOnError)
	threshold := fs.Float64("threshold", 0.10, "relative change that counts as a regression")
	all := fs.Bool("all", false, "print every figure compared, not only regressions")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return fmt.Errorf("bench compare: name the old and the new file: kinship bench compare OLD.md NEW.md: %w", errUsage)
	}
	old, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	cur, err := os.ReadFile(fs.Arg(1))
	if err != nil {
		return err
	}
	changes := compareFigures(parseBenchFigures(string(old)), parseBenchFigures(string(cur)), *threshold)
	regressions := 0
	fmt.Fprintf(stdout, "| figure | old | new | change | |\n| --- | ---: | ---: | ---: | --- |\n")
	for _, c := range changes {
		if c.regression {
			regressions++
		}
		if c.regression || *all {
			mark := ""
			if c.regression {
				mark = "**regression**"
			}
			fmt.Fprintf(stdout, "| %s | %s | %s | %+.1f %% | %s |\n", c.key, c.old, c.new, c.change*100, mark)
		}
	}
	fmt.Fprintf(stdout, "\n%d figures compared, %d regressions (worse by more than %.0f %%).\n", len(changes), regressions, *threshold*100)
	if regressions > 0 {
		return fmt.Errorf("bench compare: %d regressions", regressions)
	}
	return nil
}

// benchChange is one figure in both files.
type benchChange struct {
	key, old, new string
	change        float64 // relative, positive when the value grew
	regression    bool
}

// compareFigures pairs the figures of old and cur by key, in cur's order.
func compareFigures(old, cur []benchFigure, threshold float64) []benchChange {
	before := map[string]benchFigure{}
	for _, f := range old {
		before[f.key] = f
	}
	var out []benchChange
	for _, f := range cur {
		o, ok := before[f.key]
		if !ok || o.value == 0 {
			continue
		}
		change := (f.value - o.value) / math.Abs(o.value)
		worse := change > threshold
		if f.higher {
			worse = change < -threshold
		}
		out = append(out, benchChange{key: f.key, old: o.text, new: f.text, change: change, regression: worse})
	}
	return out
}

var (
	benchSectionStart = regexp.MustCompile(`^<!-- bench:([a-z0-9-]+):start -->`)
	benchCell         = regexp.MustCompile(`^(-?[0-9][0-9,]*(?:\.[0-9]+)?)\s*(ms|µs|s|MB|kB|GB|B|%)?$`)
)

// parseBenchFigures reads the tables of a recorded file. A row is named by
// its section, the title above its table and its cells that are not
// figures (or its position when every cell is one); a figure's column
// says which way is better: rates and ratios up, times and memory down.
// Counts without a unit (joins sent, rows) are part of the setting, not
// figures; the load average, the target and whether it was met are
// neither.
func parseBenchFigures(doc string) []benchFigure {
	var out []benchFigure
	section, title := "", ""
	var header []string
	row := 0
	lines := strings.Split(doc, "\n")
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if m := benchSectionStart.FindStringSubmatch(line); m != nil {
			section, title = m[1], ""
			continue
		}
		if t, ok := strings.CutPrefix(line, "### "); ok {
			title = t
			continue
		}
		if t, ok := strings.CutPrefix(line, "**"); ok && strings.Contains(t, "**") {
			title = t[:strings.Index(t, "**")]
			continue
		}
		if !strings.HasPrefix(line, "|") {
			header = nil
			continue
		}
		cells := splitRow(line)
		if header == nil {
			if i+1 < len(lines) && isSeparator(splitRow(strings.TrimSpace(lines[i+1]))) {
				header, row = cells, 0
			}
			continue
		}
		if isSeparator(cells) {
			continue
		}
		row++
		var name []string
		type num struct {
			col  int
			v    float64
			unit string
		}
		var nums []num
		for c, cell := range cells {
			if c >= len(header) {
				break
			}
			col := strings.ToLower(header[c])
			m := benchCell.FindStringSubmatch(cell)
			switch {
			case col == "load" || col == "met" || col == "target":
				// The machine's load, and the target and whether it was
				// met, are beside the figure, not part of the row's name.
			case m == nil:
				name = append(name, cell)
			case m[2] == "" && !strings.Contains(col, "/s") && !strings.Contains(col, "×"):
				name = append(name, cell) // a count: part of the setting
			default:
				v, err := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64)
				if err == nil {
					nums = append(nums, num{c, v * unitScale(m[2]), m[2]})
				}
			}
		}
		rowName := strings.Join(name, " / ")
		if rowName == "" {
			rowName = fmt.Sprintf("row %d", row)
		}
		for _, n := range nums {
			col := header[n.col]
			higher := strings.Contains(col, "/s") || strings.Contains(col, "×") || strings.Contains(strings.ToLower(col), "ratio")
			out = append(out, benchFigure{key: strings.Join([]string{section, title, rowName, col}, " · "), value: n.v,
				text: cells[n.col], higher: higher})
		}
	}
	return out
}

func splitRow(line string) []string {
	parts := strings.Split(strings.Trim(line, "|"), "|")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func isSeparator(cells []string) bool {
	for _, c := range cells {
		if strings.Trim(c, ":-") != "" {
			return false
		}
	}
	return true
}

func unitScale(unit string) float64 {
	switch unit {
	case "ms":
		return 1e-3
	case "µs":
		return 1e-6
	case "kB":
		return 1 << 10
	case "MB":
		return 1 << 20
	case "GB":
		return 1 << 30
	}
	return 1
}
