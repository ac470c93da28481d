package eval_test

import (
	"fmt"

	"selfsup/data"
	"selfsup/eval"
)

// Label-efficiency subsets: 1% of the labels of every MNIST class, or ten
// images of every class, the same images for the same seed on every
// machine. Asking for more than the smallest class holds is an error that
// names the limit.
func ExampleLabelSubset() {
	ds, err := data.Open("mnist", data.OpenOptions{Split: "train"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, b := range []eval.LabelBudget{{Fraction: 0.01}, {PerClass: 10}} {
		idx, err := eval.LabelSubset(ds, b, 1)
		if err != nil {
			fmt.Println(err)
			return
		}
		perClass := make([]int, 10)
		for _, i := range idx {
			perClass[ds.Label(i)]++
		}
		fmt.Printf("%s: %d images, per class %v\n", b, len(idx), perClass)
	}
	_, err = eval.LabelSubset(ds, eval.LabelBudget{PerClass: 6000}, 1)
	fmt.Println(err)
	// Output:
	// 1%: 599 images, per class [59 67 60 61 58 54 59 63 59 59]
	// 10/class: 100 images, per class [10 10 10 10 10 10 10 10 10 10]
	// mnist/train: 6000 labels per class asked for, but class 5 ("5") has only 5421 labelled images: at most 5421 per class
}
