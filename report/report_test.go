package report

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"selfsup/eval"
)

func TestRecordRoundTrip(t *testing.T) {
	dir := t.TempDir()
	in := fullRecord("simclr")
	if err := WriteRecord(dir, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadRecord(dir)
	if err != nil {
		t.Fatal(err)
	}
	if out.Format != RecordFormat || out.Created.IsZero() || out.Name != "simclr" || out.KNN.Top1 != 0.9123 ||
		len(out.Stages) != 2 || len(out.Labels) != 3 || out.Labels[1].Budget.Fraction != 0.01 || out.TSNE.KNN5 != 0.88 {
		t.Errorf("read back %+v", out)
	}
	if _, err := ReadRecord(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing eval.json: error %v, want fs.ErrNotExist", err)
	}
}

func TestRecordErrors(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Record)
		want string
	}{
		{"kind", func(r *Record) { r.Kind = "other" }, "kind"},
		{"accuracy above 1", func(r *Record) { r.Linear.Top1 = 94.5 }, "linear top-1"},
		{"NaN accuracy", func(r *Record) { r.KNN.Top1 = math.NaN() }, "knn top-1"},
		{"stage", func(r *Record) { r.Stages[1].Top1 = -0.1 }, "stage 1"},
		{"label point", func(r *Record) { r.Labels[0].Top1 = 2 }, "label point"},
		{"NMI", func(r *Record) { r.Cluster.NMI = 1.5 }, "NMI"},
		{"absolute t-SNE path", func(r *Record) { r.TSNE.PNG = "/tmp/x.png" }, "relative"},
		{"pretext", func(r *Record) { r.Pretext = map[string]float64{"acc": math.Inf(1)} }, "pretext metric acc"},
		{"time", func(r *Record) { r.EvalSeconds = -1 }, "seconds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := fullRecord("x")
			tc.edit(r)
			err := WriteRecord(t.TempDir(), r)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), RecordFile) {
				t.Errorf("error %v, want one naming %s and containing %q", err, RecordFile, tc.want)
			}
		})
	}
	bad := []struct{ content, want string }{
		{"{not json", "not an evaluation record"},
		{`{"format":"other/1","kind":"method"}`, "format"},
		{`{"format":"selfsup-eval/1","kind":"method","linear":{"top1":3}}`, "linear top-1"},
	}
	for _, b := range bad {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, RecordFile), []byte(b.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadRecord(dir); err == nil || !strings.Contains(err.Error(), b.want) || !strings.Contains(err.Error(), dir) {
			t.Errorf("%s: error %v, want one naming the file and containing %q", b.content, err, b.want)
		}
	}
}

func TestLoadRun(t *testing.T) {
	root := t.TempDir()
	// a run with metrics and a record
	full := filepath.Join(root, "simclr")
	os.MkdirAll(full, 0o755)
	writeMetrics(t, full, 11, map[string]float64{"acc": 0.5})
	if err := WriteRecord(full, fullRecord("simclr")); err != nil {
		t.Fatal(err)
	}
	r, err := LoadRun(full)
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "simclr" || r.Method != "simclr" || len(r.Loss) != 11 || r.Pretext["acc"] != 0.5 || r.Record == nil {
		t.Errorf("run %+v", r)
	}
	if r.Wall != 95*time.Second || r.WallApprox {
		t.Errorf("wall %v (approx %v), want the record's 95s", r.Wall, r.WallApprox)
	}
	// metrics only: 11 steps one second apart -> 10 s span + one mean step
	bare := filepath.Join(root, "bare")
	os.MkdirAll(bare, 0o755)
	writeMetrics(t, bare, 11, nil)
	r, err = LoadRun(bare)
	if err != nil {
		t.Fatal(err)
	}
	if r.Record != nil || r.Wall != 11*time.Second || !r.WallApprox || r.Name != "bare" {
		t.Errorf("bare run: wall %v approx %v, record %v", r.Wall, r.WallApprox, r.Record)
	}
	// config.json names the method and backbone
	os.WriteFile(filepath.Join(bare, configFile), []byte(`{"spec":{"method":"byol","backbone":{"arch":"resnet18"}}}`), 0o644)
	if r, err = LoadRun(bare); err != nil || r.Method != "byol" || r.Backbone != "resnet18" {
		t.Errorf("with config.json: %+v, %v", r, err)
	}
	// not a run
	for _, dir := range []string{t.TempDir(), filepath.Join(root, "missing")} {
		if _, err := LoadRun(dir); err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("LoadRun(%s): error %v, want one naming it", dir, err)
		}
	}
	broken := filepath.Join(root, "broken")
	os.MkdirAll(broken, 0o755)
	os.WriteFile(filepath.Join(broken, configFile), []byte("{"), 0o644)
	if _, err := LoadRun(broken); err == nil || !strings.Contains(err.Error(), configFile) {
		t.Errorf("a broken config.json: error %v", err)
	}
}

func TestPageSave(t *testing.T) {
	root := t.TempDir()
	a := filepath.Join(root, "runs", "simclr")
	b := filepath.Join(root, "runs", "plain")
	os.MkdirAll(a, 0o755)
	os.MkdirAll(b, 0o755)
	writeMetrics(t, a, 20, map[string]float64{"acc": 0.25})
	writeMetrics(t, b, 30, nil)
	if err := WriteRecord(a, fullRecord("simclr")); err != nil {
		t.Fatal(err)
	}
	writePNG(t, filepath.Join(a, "tsne.png"))
	page, err := LoadPage("Test | report", []string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "out", "report.md")
	os.MkdirAll(filepath.Dir(out), 0o755)
	files, err := page.Save(out, func(msg string) { t.Errorf("warning: %s", msg) })
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"report_loss.png", "report_accuracy.png", "report_labels.png", "report.md", "report.html"} {
		found := false
		for _, f := range files {
			found = found || filepath.Base(f) == want
		}
		if !found {
			t.Errorf("files %v lack %s", files, want)
		}
	}
	md, _ := os.ReadFile(out)
	text := string(md)
	for _, want := range []string{
		"| simclr | simclr | resnet-small | 1 | 1m35s | acc=0.25 | 91.23 | 94.56 | 97.00 | 40.00 | 70.00 | 0.610 |",
		"| plain | - | - | - | ~30s | - | - | - | - | - | - | - |",
		"| simclr | 81.00 (32) | 87.00 (64) |",
		"| simclr | finetune | - | 75.00 (60) |",
		"![t-SNE of simclr](../runs/simclr/tsne.png)",
		"5-NN accuracy in the map 88.00%",
		"![loss](report_loss.png)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report.md lacks %q:\n%s", want, text)
		}
	}
	h, _ := os.ReadFile(filepath.Join(root, "out", "report.html"))
	html := string(h)
	if !strings.HasPrefix(html, "<!DOCTYPE html>") || !strings.Contains(html, "Test | report") || !strings.Contains(html, "</html>") {
		t.Errorf("report.html is not a page:\n%.300s", html)
	}
	uris := regexp.MustCompile(`src="data:image/png;base64,([A-Za-z0-9+/=]+)"`).FindAllStringSubmatch(html, -1)
	if len(uris) != 4 { // loss, accuracy, labels, one t-SNE map
		t.Fatalf("report.html inlines %d PNGs, want 4", len(uris))
	}
	for _, u := range uris {
		raw, err := base64.StdEncoding.DecodeString(u[1])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
			t.Errorf("an inlined image is not a PNG: %v", err)
		}
	}
	if _, err := page.Save(filepath.Join(root, "report.txt"), nil); err == nil {
		t.Error("a .txt report name gave no error")
	}
}

func TestBudgetOrder(t *testing.T) {
	bs := []eval.LabelBudget{{PerClass: 10}, {Fraction: 1}, {Fraction: 0.01}, {PerClass: 1}, {Fraction: 0.1}}
	sortBudgets(bs)
	var got []string
	for _, b := range bs {
		got = append(got, b.String())
	}
	if s := strings.Join(got, " "); s != "1% 10% 100% 1/class 10/class" {
		t.Errorf("order %s", s)
	}
}

func TestWallCell(t *testing.T) {
	cases := []struct {
		wall   time.Duration
		approx bool
		want   string
	}{
		{0, false, "-"},
		{42 * time.Second, false, "42s"},
		{95 * time.Second, true, "~1m35s"},
		{3*time.Hour + 4*time.Minute + 20*time.Second, false, "3h4m"},
	}
	for _, tc := range cases {
		if got := wallCell(&Run{Wall: tc.wall, WallApprox: tc.approx}); got != tc.want {
			t.Errorf("wallCell(%v, %v) = %q, want %q", tc.wall, tc.approx, got, tc.want)
		}
	}
}
