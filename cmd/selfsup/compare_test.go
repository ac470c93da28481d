package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"selfsup/report"
)

// TestCompareReportCam runs a tiny comparison (a method and two
// baselines on 300 MNIST images), reruns it (everything is skipped), then
// builds a report over some of its runs and draws where two of its
// encoders look.
func TestCompareReportCam(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two small models")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "cmp")
	args := []string{"compare", "--data", "mnist", "--subset", "300", "--methods", "rotation", "--baselines", "pixels,supervised",
		"--steps", "2", "--batch", "64", "--tsne-n", "60", "--fractions", "0.1,1", "--out", out, "--quiet"}
	stdout, stderr := mustCLI(t, args...)
	if !strings.Contains(stdout, "compared 3 runs on mnist") || !strings.Contains(stdout, "report.html") {
		t.Errorf("stdout: %s", stdout)
	}
	for _, want := range []string{"[1/3] rotation: pretraining", "[2/3] pixels: kNN top-1", "[3/3] supervised: the supervised model's own test top-1"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("progress lacks %q:\n%s", want, stderr)
		}
	}
	recs := map[string]*report.Record{}
	for _, name := range []string{"rotation", "pixels", "supervised"} {
		r, err := report.ReadRecord(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		recs[name] = r
		if r.KNN == nil || r.Linear == nil || r.Cluster == nil || r.TSNE == nil || len(r.Labels) != 2 || r.TestImages != 300 {
			t.Errorf("%s: incomplete record %+v", name, r)
		}
		if _, err := os.Stat(filepath.Join(out, name, r.TSNE.PNG)); err != nil {
			t.Errorf("%s: t-SNE map: %v", name, err)
		}
	}
	if len(recs["pixels"].Stages) != 0 || len(recs["rotation"].Stages) != 4 || recs["rotation"].Kind != report.KindMethod {
		t.Errorf("stages: pixels %d, rotation %d (want 0 and the stem + 3 stages)", len(recs["pixels"].Stages), len(recs["rotation"].Stages))
	}
	if recs["supervised"].Finetune == nil || recs["supervised"].Kind != report.KindBaseline || recs["rotation"].Steps != 2 {
		t.Errorf("supervised %+v, rotation steps %d", recs["supervised"], recs["rotation"].Steps)
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil || !strings.Contains(string(md), "| rotation | rotation | resnet-small |") || !strings.Contains(string(md), "| pixels | pixels | - |") {
		t.Errorf("report.md (%v):\n%s", err, md)
	}
	if h, err := os.ReadFile(filepath.Join(out, "report.html")); err != nil || strings.Count(string(h), "data:image/png;base64,") < 5 {
		t.Errorf("report.html should inline the 3 plots and 3 t-SNE maps (%v)", err)
	}

	// resumable: nothing is done twice
	_, stderr = mustCLI(t, args...)
	if n := strings.Count(stderr, "done before"); n != 3 {
		t.Errorf("the rerun skipped %d of 3 runs:\n%s", n, stderr)
	}

	// a report over two of the runs, with a run directory list after --runs
	rep := filepath.Join(dir, "rep", "two.md")
	os.MkdirAll(filepath.Dir(rep), 0o755)
	stdout, _ = mustCLI(t, "report", "--runs", filepath.Join(out, "rotation"), filepath.Join(out, "pixels"), "--out", rep, "--title", "two runs")
	if !strings.Contains(stdout, "report on 2 runs (2 with evaluation results)") {
		t.Errorf("report: %s", stdout)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "rep", "two.html")); err != nil || !strings.Contains(string(b), "<h1>two runs</h1>") {
		t.Errorf("two.html: %v", err)
	}

	// where the supervised and the rotation encoders look
	png := filepath.Join(dir, "cam.png")
	stdout, _ = mustCLI(t, "cam", "--ckpt", filepath.Join(out, "supervised"), "--compare", filepath.Join(out, "rotation"), "--data", "mnist",
		"--subset", "300", "--n", "4", "--probe-images", "200", "--paste", "40", "--measure", "20", "--out", png, "--json", "--quiet")
	v := decodeJSON(t, stdout)
	models, _ := v["models"].([]any)
	if len(models) != 2 || v["chance"] != 28.0*28.0/(40.0*40.0) {
		t.Fatalf("cam output %v", v)
	}
	for _, m := range models {
		mm := m.(map[string]any)
		if f, _ := mm["mass_in_box"].(float64); !(f > 0 && f <= 1) {
			t.Errorf("%s: mass in box %v", mm["title"], mm["mass_in_box"])
		}
	}
	if st, err := os.Stat(png); err != nil || st.Size() < 1000 {
		t.Errorf("cam.png: %v", err)
	}
	stdout, _ = mustCLI(t, "cam", "--ckpt", filepath.Join(out, "rotation"), "--data", "mnist", "--mode", "norm", "--n", "3", "--out", png)
	if !strings.Contains(stdout, "feature norm maps of 3 images") {
		t.Errorf("cam --mode norm: %s", stdout)
	}
}

func TestCompareReportCamBadInput(t *testing.T) {
	dir := t.TempDir()
	png := filepath.Join(dir, "c.png")
	notRun := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"compare without --out", []string{"compare", "--data", "mnist", "--methods", "simclr"}, "--out"},
		{"compare unknown method", []string{"compare", "--data", "mnist", "--methods", "simclr,nope", "--out", dir}, "nope"},
		{"compare supervised as a method", []string{"compare", "--data", "mnist", "--methods", "supervised", "--out", dir}, "baseline"},
		{"compare twice", []string{"compare", "--data", "mnist", "--methods", "simclr,simclr", "--out", dir}, "twice"},
		{"compare unknown baseline", []string{"compare", "--data", "mnist", "--methods", "simclr", "--baselines", "imagenet", "--out", dir}, "imagenet"},
		{"compare nothing", []string{"compare", "--data", "mnist", "--baselines", "none", "--out", dir}, "nothing to compare"},
		{"compare bad fractions", []string{"compare", "--data", "mnist", "--methods", "simclr", "--fractions", "0,1", "--out", dir}, "--fractions"},
		{"compare unknown arch", []string{"compare", "--data", "mnist", "--methods", "simclr", "--arch", "vgg", "--out", dir}, "vgg"},
		{"compare too few labels", []string{"compare", "--data", "mnist", "--subset", "50", "--methods", "simclr", "--fractions", "0.001", "--out", dir}, "mnist"},
		{"report without runs", []string{"report", "--out", filepath.Join(dir, "r.md")}, "no runs"},
		{"report not markdown", []string{"report", "--runs", notRun, "--out", filepath.Join(dir, "r.html")}, ".md"},
		{"report not a run", []string{"report", "--runs", notRun, "--out", filepath.Join(dir, "r.md")}, notRun},
		{"cam without --ckpt", []string{"cam", "--data", "mnist", "--out", png}, "--ckpt"},
		{"cam bad mode", []string{"cam", "--ckpt", notRun, "--data", "mnist", "--mode", "x", "--out", png}, "--mode"},
		{"cam bad target", []string{"cam", "--ckpt", notRun, "--data", "mnist", "--target", "x", "--out", png}, "--target"},
		{"cam clutter without paste", []string{"cam", "--ckpt", notRun, "--data", "mnist", "--clutter", "3", "--out", png}, "--paste"},
		{"cam not a png", []string{"cam", "--ckpt", notRun, "--data", "mnist", "--out", "c.jpg"}, ".png"},
		{"cam canvas too small", []string{"cam", "--ckpt", notRun, "--data", "mnist", "--paste", "20", "--mode", "norm", "--out", png}, "smaller than"},
		{"cam not a checkpoint", []string{"cam", "--ckpt", notRun, "--data", "mnist", "--mode", "norm", "--out", png}, notRun},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := cli(t, tc.args...)
			if code == 0 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q: want a failure mentioning %q", code, stderr, tc.want)
			}
		})
	}
}
