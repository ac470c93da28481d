package report

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"selfsup/internal/atomicfile"
)

// Page is one report over a list of runs, in the order given.
type Page struct {
	// Title heads the page.
	Title string
	// Runs are the rows.
	Runs []*Run
	// Generated is when the page was made (shown under the title).
	Generated time.Time
}

// LoadPage loads every run directory (see LoadRun) into a page. An
// unreadable directory is an error naming it.
func LoadPage(title string, dirs []string) (*Page, error) {
	if len(dirs) == 0 {
		return nil, fmt.Errorf("report: no run directories")
	}
	p := &Page{Title: title, Generated: time.Now()}
	for _, d := range dirs {
		r, err := LoadRun(d)
		if err != nil {
			return nil, err
		}
		p.Runs = append(p.Runs, r)
	}
	return p, nil
}

// tables returns the page's tables in order, without the empty ones.
func (p *Page) tables() (results table, rest []table) {
	for _, t := range []table{p.stageTable(), p.labelTable(), p.clusterTable()} {
		if len(t.rows) > 0 {
			rest = append(rest, t)
		}
	}
	return p.summaryTable(), rest
}

// tsneRuns returns the runs with a t-SNE map.
func (p *Page) tsneRuns() []*Run {
	var out []*Run
	for _, r := range p.Runs {
		if r.Record != nil && r.Record.TSNE != nil {
			out = append(out, r)
		}
	}
	return out
}

func tsneCaption(r *Run) string {
	t := r.Record.TSNE
	s := fmt.Sprintf("%s: %d test images", r.Name, t.Images)
	if t.KNN5 > 0 {
		s += fmt.Sprintf(", 5-NN accuracy in the map %s%%", pct(t.KNN5))
	}
	return s
}

// WriteMarkdown writes the page as Markdown. figures maps a figure's name
// to the path its PNG is linked under, and tsne maps a run's directory to
// the path of its t-SNE PNG; figures missing from the maps are left out.
func (p *Page) WriteMarkdown(w io.Writer, figures map[string]string, tsne map[string]string) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# %s\n\n", p.Title)
	fmt.Fprintf(bw, "Generated %s from %d runs.\n\n", p.Generated.Format("2006-01-02 15:04"), len(p.Runs))
	figs := map[string]Figure{}
	for _, f := range p.Figures() {
		figs[f.Name] = f
	}
	fig := func(name string) {
		if path, ok := figures[name]; ok {
			if f, ok := figs[name]; ok {
				fmt.Fprintf(bw, "![%s](%s)\n\n*%s*\n\n", name, mdPath(path), f.Caption)
			}
		}
	}
	results, rest := p.tables()
	writeMarkdownTable(bw, results)
	fig("accuracy")
	for _, t := range rest {
		writeMarkdownTable(bw, t)
		if t.title == "Label efficiency" {
			fig("labels")
		}
	}
	if _, ok := figures["loss"]; ok {
		fmt.Fprintf(bw, "## Training loss\n\n")
		fig("loss")
	}
	if runs := p.tsneRuns(); len(runs) > 0 {
		fmt.Fprintf(bw, "## t-SNE\n\n")
		for _, r := range runs {
			if path, ok := tsne[r.Dir]; ok {
				fmt.Fprintf(bw, "![t-SNE of %s](%s)\n\n*%s*\n\n", r.Name, mdPath(path), tsneCaption(r))
			}
		}
	}
	writeMarkdownTable(bw, p.detailTable())
	return bw.Flush()
}

// mdPath writes a link target with forward slashes and spaces escaped.
func mdPath(p string) string {
	return strings.ReplaceAll(filepath.ToSlash(p), " ", "%20")
}

func writeMarkdownTable(w io.Writer, t table) {
	fmt.Fprintf(w, "## %s\n\n", t.title)
	if t.note != "" {
		fmt.Fprintf(w, "%s\n\n", t.note)
	}
	if len(t.head) == 0 {
		fmt.Fprintf(w, "(nothing measured)\n\n")
		return
	}
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	fmt.Fprint(w, "|")
	for _, h := range t.head {
		fmt.Fprintf(w, " %s |", cell(h))
	}
	fmt.Fprint(w, "\n|")
	for i := range t.head {
		if i == 0 {
			fmt.Fprint(w, " --- |")
		} else {
			fmt.Fprint(w, " ---: |")
		}
	}
	fmt.Fprintln(w)
	for _, row := range t.rows {
		fmt.Fprint(w, "|")
		for _, c := range row {
			fmt.Fprintf(w, " %s |", cell(c))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}

// htmlStyle keeps the page readable without any external file.
const htmlStyle = `body{font-family:system-ui,-apple-system,"Segoe UI",Arial,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:14px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
th{background:#f2f2f2}
tr:nth-child(even) td{background:#fafafa}
figure{margin:1em 0}
figcaption{font-style:italic;color:#555;font-size:14px}
img{max-width:100%;height:auto;border:1px solid #eee}
.tsne{display:flex;flex-wrap:wrap;gap:1em}
.tsne figure{width:48%;min-width:320px}
p.note{color:#444;font-size:14px;max-width:70em}`

// WriteHTML writes the page as one self-contained HTML document: figures
// maps a figure's name to its PNG bytes and tsne a run's directory to its
// t-SNE PNG bytes, both inlined as base64 data URIs.
func (p *Page) WriteHTML(w io.Writer, figures map[string][]byte, tsne map[string][]byte) error {
	bw := bufio.NewWriter(w)
	esc := html.EscapeString
	fmt.Fprintf(bw, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>%s</title>\n<style>\n%s\n</style>\n</head>\n<body>\n",
		esc(p.Title), htmlStyle)
	fmt.Fprintf(bw, "<h1>%s</h1>\n<p>Generated %s from %d runs.</p>\n", esc(p.Title), esc(p.Generated.Format("2006-01-02 15:04")), len(p.Runs))
	figs := map[string]Figure{}
	for _, f := range p.Figures() {
		figs[f.Name] = f
	}
	img := func(b []byte, alt, caption string) {
		fmt.Fprintf(bw, "<figure><img alt=\"%s\" src=\"data:image/png;base64,%s\"><figcaption>%s</figcaption></figure>\n",
			esc(alt), base64.StdEncoding.EncodeToString(b), esc(caption))
	}
	fig := func(name string) {
		if b, ok := figures[name]; ok {
			if f, ok := figs[name]; ok {
				img(b, name, f.Caption)
			}
		}
	}
	results, rest := p.tables()
	writeHTMLTable(bw, results)
	fig("accuracy")
	for _, t := range rest {
		writeHTMLTable(bw, t)
		if t.title == "Label efficiency" {
			fig("labels")
		}
	}
	if _, ok := figures["loss"]; ok {
		fmt.Fprintf(bw, "<h2>Training loss</h2>\n")
		fig("loss")
	}
	if runs := p.tsneRuns(); len(runs) > 0 {
		fmt.Fprintf(bw, "<h2>t-SNE</h2>\n<div class=\"tsne\">\n")
		for _, r := range runs {
			if b, ok := tsne[r.Dir]; ok {
				img(b, "t-SNE of "+r.Name, tsneCaption(r))
			}
		}
		fmt.Fprintf(bw, "</div>\n")
	}
	writeHTMLTable(bw, p.detailTable())
	fmt.Fprintf(bw, "</body>\n</html>\n")
	return bw.Flush()
}

func writeHTMLTable(w io.Writer, t table) {
	esc := html.EscapeString
	fmt.Fprintf(w, "<h2>%s</h2>\n", esc(t.title))
	if t.note != "" {
		fmt.Fprintf(w, "<p class=\"note\">%s</p>\n", esc(t.note))
	}
	if len(t.head) == 0 {
		fmt.Fprintf(w, "<p>(nothing measured)</p>\n")
		return
	}
	fmt.Fprint(w, "<table>\n<tr>")
	for _, h := range t.head {
		fmt.Fprintf(w, "<th>%s</th>", esc(h))
	}
	fmt.Fprint(w, "</tr>\n")
	for _, row := range t.rows {
		fmt.Fprint(w, "<tr>")
		for _, c := range row {
			fmt.Fprintf(w, "<td>%s</td>", esc(c))
		}
		fmt.Fprint(w, "</tr>\n")
	}
	fmt.Fprint(w, "</table>\n")
}

// Save writes the page as Markdown to mdPath (which must end in .md), its
// figures as PNG files next to it (<name>_<figure>.png) and the
// self-contained HTML version (<name>.html), all atomically. It returns
// the files written. A run's t-SNE map that cannot be read is left out
// with a warning through warn (nil: none).
func (p *Page) Save(mdPath string, warn func(string)) ([]string, error) {
	if !strings.EqualFold(filepath.Ext(mdPath), ".md") {
		return nil, fmt.Errorf("report %s: want a .md file name (the .html goes next to it)", mdPath)
	}
	if warn == nil {
		warn = func(string) {}
	}
	base := strings.TrimSuffix(mdPath, filepath.Ext(mdPath))
	dir := filepath.Dir(mdPath)
	var written []string
	figPaths, figBytes := map[string]string{}, map[string][]byte{}
	for _, f := range p.Figures() {
		b, err := f.PNG()
		if err != nil {
			return written, err
		}
		path := base + "_" + f.Name + ".png"
		if err := atomicfile.WriteFile(path, b, 0o644); err != nil {
			return written, err
		}
		written = append(written, path)
		figPaths[f.Name], figBytes[f.Name] = filepath.Base(path), b
	}
	tsnePaths, tsneBytes := map[string]string{}, map[string][]byte{}
	for _, r := range p.tsneRuns() {
		path := filepath.Join(r.Dir, r.Record.TSNE.PNG)
		b, err := os.ReadFile(path)
		if err != nil {
			warn(fmt.Sprintf("t-SNE map of %s left out: %v", r.Name, err))
			continue
		}
		rel, err := relPath(dir, path)
		if err != nil {
			return written, err
		}
		tsnePaths[r.Dir], tsneBytes[r.Dir] = rel, b
	}
	err := atomicfile.Write(mdPath, 0o644, func(w io.Writer) error { return p.WriteMarkdown(w, figPaths, tsnePaths) })
	if err != nil {
		return written, fmt.Errorf("report %s: %w", mdPath, err)
	}
	written = append(written, mdPath)
	htmlPath := base + ".html"
	err = atomicfile.Write(htmlPath, 0o644, func(w io.Writer) error { return p.WriteHTML(w, figBytes, tsneBytes) })
	if err != nil {
		return written, fmt.Errorf("report %s: %w", htmlPath, err)
	}
	return append(written, htmlPath), nil
}

// relPath returns target relative to dir (absolute when they share no
// root).
func relPath(dir, target string) (string, error) {
	ad, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	at, err := filepath.Abs(target)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(ad, at)
	if err != nil {
		return at, nil
	}
	return rel, nil
}
