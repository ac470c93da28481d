package methods

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"selfsup/autograd"
	"selfsup/nn"
)

// The supervised baseline trains on labels: a batch with an unlabelled
// image or a label the head does not have is an error naming the image,
// never a panic or a silently wrong loss.
func TestSupervisedChecksLabels(t *testing.T) {
	spec := Spec{Method: "supervised", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 16},
		Params: json.RawMessage(`{"classes":4}`)}
	r := rand.New(rand.NewPCG(1, 2))
	m, err := Build(spec, r)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		labels []int
		want   []string // empty: no error
	}{
		{"labelled", []int{0, 1, 2, 3}, nil},
		{"unlabelled image", []int{0, 1, -1, 3}, []string{"image 12", "no label", "labelled"}},
		{"label past the head", []int{0, 4, 2, 3}, []string{"image 11", "label 4", "4 classes", `"classes":5`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := batchFor(t, m.Views(), 4, r)
			b.Labels = c.labels
			b.Indices = []int{10, 11, 12, 13}
			var loss float32
			err := autograd.Guard(func() error {
				loss = m.Loss(b, r).Loss.Item()
				return nil
			})
			if len(c.want) == 0 {
				if err != nil || !(loss > 0) {
					t.Fatalf("loss %v, error %v", loss, err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// The head has one output per class and the view is the light crop.
func TestSupervisedBuild(t *testing.T) {
	base := Spec{Method: "supervised", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 16}}
	cases := []struct {
		params  string
		classes int
		err     string
	}{
		{``, 10, ""},
		{`{"classes":3}`, 3, ""},
		{`{"classes":1}`, 0, "at least 2"},
		{`{"classes":3,"augment":{"min_scale":2}}`, 0, "crop scale"},
		{`{"clases":3}`, 0, "clases"},
	}
	for _, c := range cases {
		s := base
		if c.params != "" {
			s.Params = json.RawMessage(c.params)
		}
		m, err := Build(s, rand.New(rand.NewPCG(1, 1)))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("params %s: error %v, want %q", c.params, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("params %s: %v", c.params, err)
		}
		sup := m.(*Supervised)
		if got := sup.Head.Weight.Value.Shape(); got[0] != c.classes || got[1] != sup.Enc.OutDim() {
			t.Errorf("params %s: head weight %v, want [%d %d]", c.params, got, c.classes, sup.Enc.OutDim())
		}
		if v := m.Views(); len(v) != 1 || !strings.Contains(v[0].(interface{ String() string }).String(), "0.5") {
			t.Errorf("params %s: views %v, want one crop of scale (0.5, 1)", c.params, v)
		}
	}
}
