package train

import (
	"context"
	"fmt"

	"selfsup/data"
	"selfsup/eval"
	"selfsup/methods"
)

// Defaults of MonitorConfig.
const (
	// DefaultMonitorBank is the number of labelled images whose features
	// form the kNN memory bank.
	DefaultMonitorBank = 5000
	// DefaultMonitorQuery is the number of labelled images classified.
	DefaultMonitorQuery = 1000
	// KNNTop1Key names the monitor's number in metrics.jsonl: the top-1
	// accuracy as a fraction in [0, 1].
	KNNTop1Key = "knn_top1"
)

// MonitorConfig sets up KNNMonitor. The zero value takes the defaults.
type MonitorConfig struct {
	// Every runs the monitor after every Every-th epoch (0: 1).
	Every int
	// BankSize and QuerySize are the numbers of images drawn from the bank
	// and query datasets (0: DefaultMonitorBank and DefaultMonitorQuery),
	// class-balanced (each class keeps its share) and clipped to the
	// labelled images there are. Per-class rounding can make the counts
	// differ from the request by up to half the number of classes.
	BankSize, QuerySize int
	// Seed drives the choice of the subsets, made once by KNNMonitor, so
	// every evaluation of a run (and a resumed run) sees the same images.
	Seed uint64
	// K and Temperature configure the weighted kNN vote (0: eval's
	// defaults, K = 200 and T = 0.1, the InstDisc protocol of eval knn).
	K           int
	Temperature float64
	// BatchSize of the feature extraction (0: 256).
	BatchSize int
	// Context, when set, is checked during feature extraction: once it is
	// cancelled (the run is being interrupted) the monitor returns no
	// numbers and no error, so the interrupt stays clean. nil: never
	// cancelled.
	Context context.Context
}

// KNNMonitor returns an OnEpoch hook that measures how good the encoder's
// features are while training runs: every cfg.Every epochs it extracts the
// features of a fixed subset of bank (the kNN memory) and of query with the
// method's encoder (evaluation mode, no gradient; see eval.Extract) and
// classifies the query images by a weighted kNN vote over the bank, as
// `selfsup eval knn` does. It returns {KNNTop1Key: top-1 accuracy} (a
// fraction), or nothing on the epochs it skips.
//
// The images are used as they are (no augmentation, as in eval), so all
// must have one size. bank and query should be disjoint, typically the
// train and test splits: a query image that is also in the bank finds
// itself. Both must have labels; unlabeled images are never drawn. The
// subsets are chosen here, once, from cfg.Seed.
//
// The cost per evaluation is one forward pass over BankSize + QuerySize
// images plus a BankSize x QuerySize similarity search.
func KNNMonitor(bank, query data.Dataset, cfg MonitorConfig) (func(epoch int, m methods.Method) (map[string]float64, error), error) {
	if bank == nil || query == nil {
		return nil, fmt.Errorf("kNN monitor: the bank and the query dataset are both needed")
	}
	if cfg.Every < 0 || cfg.BankSize < 0 || cfg.QuerySize < 0 || cfg.K < 0 || cfg.Temperature < 0 || cfg.BatchSize < 0 {
		return nil, fmt.Errorf("kNN monitor: every %d, bank %d, query %d, K %d, temperature %g and batch %d must not be negative",
			cfg.Every, cfg.BankSize, cfg.QuerySize, cfg.K, cfg.Temperature, cfg.BatchSize)
	}
	if cfg.Every == 0 {
		cfg.Every = 1
	}
	if cfg.BankSize == 0 {
		cfg.BankSize = DefaultMonitorBank
	}
	if cfg.QuerySize == 0 {
		cfg.QuerySize = DefaultMonitorQuery
	}
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	bankSet, bankClasses, err := balancedSubset(bank, cfg.BankSize, cfg.Seed, "bank")
	if err != nil {
		return nil, err
	}
	// Another stream for the query, so that equal-sized picks from two
	// splits with the same class layout are not the same indices.
	querySet, queryClasses, err := balancedSubset(query, cfg.QuerySize, cfg.Seed^0x9e3779b97f4a7c15, "query")
	if err != nil {
		return nil, err
	}
	numClasses := max(bankClasses, queryClasses)
	knn := eval.DefaultKNNConfig()
	if cfg.K > 0 {
		knn.K = cfg.K
	}
	if cfg.Temperature > 0 {
		knn.Temperature = cfg.Temperature
	}
	xcfg := eval.ExtractConfig{BatchSize: cfg.BatchSize}
	return func(epoch int, m methods.Method) (map[string]float64, error) {
		if epoch%cfg.Every != 0 {
			return nil, nil
		}
		ctx := cfg.Context
		enc := m.Encoder()
		b, err := eval.Extract(ctx, enc, bankSet, xcfg)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil
			}
			return nil, fmt.Errorf("kNN monitor: %w", err)
		}
		q, err := eval.Extract(ctx, enc, querySet, xcfg)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil
			}
			return nil, fmt.Errorf("kNN monitor: %w", err)
		}
		res, err := eval.KNN(b.X, b.Labels, q.X, q.Labels, numClasses, knn)
		if err != nil {
			return nil, fmt.Errorf("kNN monitor: %w", err)
		}
		return map[string]float64{KNNTop1Key: res.Top1}, nil
	}, nil
}

// balancedSubset draws about size labelled images of ds, class-balanced and
// reproducibly from seed (all labelled images when there are no more), and
// returns them with the number of classes their labels range over.
func balancedSubset(ds data.Dataset, size int, seed uint64, role string) (data.Dataset, int, error) {
	labeled, maxLabel := 0, -1
	for i := range ds.Len() {
		if l := ds.Label(i); l >= 0 {
			labeled++
			maxLabel = max(maxLabel, l)
		}
	}
	if labeled == 0 {
		return nil, 0, fmt.Errorf("kNN monitor: the %s dataset %s has no labels (the monitor classifies labelled images)", role, ds.Name())
	}
	idx, err := data.ClassBalancedIndices(ds, min(1, float64(size)/float64(labeled)), seed)
	if err != nil {
		return nil, 0, fmt.Errorf("kNN monitor: %w", err)
	}
	sub, err := data.Subset(ds, idx)
	if err != nil {
		return nil, 0, fmt.Errorf("kNN monitor: %w", err)
	}
	return sub, max(len(ds.Classes()), maxLabel+1), nil
}
