//! The data layer of data-parallel training: the [data] settings, IDX / CSV /
//! HDF5 readers and synthetic 2-D sets (synthetic.hpp), the training and
//! held-out splits cut into partitions that the ranks own, and the batch plan
//! that makes every global mini-batch a function of (seed, partitions, batch,
//! step) alone, never of the rank count.
//!
//! A split of n examples is cut into D = data.partitions contiguous partitions
//! (block_range: the first n % D one larger). Rank r of R owns the partitions
//! block_range(D, R, r) and keeps only their rows. Per epoch e, partition p is
//! shuffled by Fisher–Yates on Philox (seed, p, e); global batch j of epoch e
//! takes positions [j·b, (j+1)·b) of every partition's permutation, b = B / D,
//! in partition order. The rows a rank contributes are therefore the same
//! whether it holds one partition or all of them.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "zeta/core/config.hpp"
#include "zeta/core/types.hpp"
#include "zeta/data/synthetic.hpp"
#include "zeta/parallel/comm.hpp"

namespace zeta::data {

//! Where the examples come from: a file of one of three formats, or generated 2-D points.
enum class FileType { idx, csv, hdf5, synthetic };
enum class Binarize { none, threshold, stochastic };

//! Validated [data] settings (read_data_spec).
struct DataSpec {
  FileType type = FileType::idx;
  std::string type_name = "idx";
  std::string path;            //!< training file (empty for synthetic)
  std::string heldout_path;    //!< separate held-out file; empty: hold out `holdout` of `path`
  std::string dataset = "/x";  //!< hdf5: the 2-D dataset [examples, features]
  double holdout = 0;          //!< fraction of the (limited) training file held out from its end
  std::int64_t limit = 0;      //!< use only the first `limit` examples of each file (0 = all)
  Binarize binarize = Binarize::none;
  std::string binarize_name = "none";
  bool standardize = false;
  int partitions = 4;
  //! Class labels (data.labels): idx: the label file of data.path (data.heldout_labels:
  //! of data.heldout_path); csv: label_column of each file; hdf5: the dataset `labels`
  //! of each file. Empty: none.
  std::string labels, heldout_labels;
  int label_column = -1;
  bool labelled() const { return !labels.empty(); }
  SyntheticSpec synthetic;  //!< data.type = synthetic: the shape and the split sizes
};

void declare_data_keys(Config& cfg);
DataSpec read_data_spec(const Config& cfg);

//! One partition of a split: examples [begin, begin + count) of the split, row-major.
struct Partition {
  std::int64_t index = 0;  //!< partition number in [0, partitions)
  std::int64_t begin = 0;  //!< the split's index of its first example
  std::int64_t count = 0;
  std::vector<Real> x;  //!< count × dim
  std::vector<std::int32_t> y;  //!< count class labels (data.labels), or none
};

//! A split (training or held-out): its size and this rank's partitions, in order.
struct Split {
  std::int64_t n = 0;
  int dim = 0;
  std::vector<Partition> local;
  //! Examples this rank holds (the sum of its partitions' counts).
  std::int64_t local_count() const;
};

struct Dataset {
  Split train, heldout;  //!< heldout.n == 0 when there is none
  int partitions = 0;
  int dim = 0;
  bool labelled = false;  //!< every partition has its labels y
  //! data.standardize: x' = (x − mean) / scale per feature, from the training
  //! split over every rank; scale is 1 for a feature that is constant there.
  //! Empty when off.
  std::vector<double> mean, scale;
};

//! Collective: reads this rank's partitions of both splits, then binarizes
//! (stochastic: Bernoulli(x) from Philox keyed by `seed` and the example's row in
//! its file) and standardizes. Any failure, even one only a single rank sees, is
//! thrown as the same zeta::Error on every rank, naming the key and file.
//! data.type = synthetic: each rank generates only its partitions' rows,
//! synthetic_point(spec.synthetic, seed, split, index) with the example's index in
//! its split; data.limit caps both splits as it caps each file.
Dataset load(const DataSpec& spec, std::uint32_t seed, const parallel::Comm& comm);

//! The mean of one value per example of a split and its standard error
//! sd/√n (sd with n − 1).
struct SplitMean {
  double mean = 0, se = 0;
  std::int64_t n = 0;
};

//! Collective. `local` holds one value per example this rank holds, in the order of
//! split.local (partition by partition). Each partition's sums are formed in row
//! order and combined in partition order, so every rank count gives the same bits.
SplitMean split_mean(const Split& split, int partitions, const std::vector<double>& local, const parallel::Comm& comm);

//! Collective: the exact NLL of the held-out split of a synthetic data set, the
//! mean of −ln p(x) (synthetic_log_density) over d.heldout, in the coordinates of
//! d: with data.standardize the density is that of the standardized points, so
//! Σ_k ln scale_k is subtracted. Throws naming data.type or data.shape where there
//! is no closed form, and naming data.heldout_examples when there is no held-out split.
SplitMean synthetic_nll(const DataSpec& spec, const Dataset& d, const parallel::Comm& comm);

//! The partitions [offset, offset + count) that `rank` of `ranks` owns; throws a
//! collective error naming data.partitions when ranks > partitions.
parallel::Share partitions_of(int rank, int ranks, int partitions);

//! Fills `perm` with the permutation of [0, count) that partition `partition` uses
//! in epoch `epoch`: Fisher–Yates driven by Philox (seed, partition, epoch, kShuffle).
void partition_permutation(std::uint32_t seed, std::int64_t partition, std::int64_t epoch, std::int64_t count,
                           std::vector<std::int64_t>& perm);

//! Which rows of each partition every global mini-batch uses. Step s (0, 1, 2, …)
//! is batch j = s mod batches_per_epoch() of epoch s / batches_per_epoch(); it takes
//! per_partition() rows from every partition, so within an epoch no example is
//! visited twice, and the last count − batches_per_epoch()·per_partition() rows of a
//! partition's permutation sit that epoch out. Keeps the current epoch's
//! permutation of each partition asked about (not thread-safe).
class BatchPlan {
 public:
  //! Refuses (naming train.batch) a batch that is not a multiple of `partitions` or
  //! takes more rows per partition than the smallest partition holds.
  BatchPlan(const Split& split, int partitions, std::int64_t batch, std::uint32_t seed);

  std::int64_t batch() const { return batch_; }
  std::int64_t per_partition() const { return per_partition_; }
  std::int64_t batches_per_epoch() const { return batches_per_epoch_; }
  std::int64_t epoch(std::int64_t step) const { return step / batches_per_epoch_; }

  //! The rows of `p` (indices into p.x, 0 ≤ row < p.count) that global batch `step`
  //! uses, in batch order: per_partition() of them.
  void rows(std::int64_t step, const Partition& p, std::vector<std::int64_t>& local_rows) const;
  //! Copies those rows of `p` to out (per_partition() × dim, row-major).
  void copy_rows(std::int64_t step, const Partition& p, int dim, Real* out) const;
  //! This rank's share of global batch `step`: copy_rows of every local partition of
  //! `split`, in partition order (split.local.size() · per_partition() rows).
  void copy_batch(std::int64_t step, const Split& split, Real* out) const;
  //! f(n, the example's global id in the split, its dim values) for every row of this
  //! rank's share of batch `step`, in copy_batch's order (n = l·per_partition() + j:
  //! local partition l's j-th).
  template <class F>
  void for_rows(std::int64_t step, const Split& split, int dim, F&& f) const {
    for (std::size_t l = 0; l < split.local.size(); ++l) {
      const Partition& part = split.local[l];
      rows(step, part, ids_);
      for (std::int64_t j = 0; j < per_partition_; ++j)
        f(std::int64_t(l) * per_partition_ + j, std::uint64_t(part.begin + ids_[std::size_t(j)]),
          part.x.data() + std::size_t(ids_[std::size_t(j)]) * std::size_t(dim));
    }
  }

 private:
  const std::vector<std::int64_t>& permutation(std::int64_t step, const Partition& p) const;

  std::uint32_t seed_;
  int partitions_;
  std::int64_t n_, batch_, per_partition_, batches_per_epoch_;
  struct Cached {
    std::int64_t epoch = -1;
    std::vector<std::int64_t> perm;
  };
  mutable std::map<std::int64_t, Cached> cache_;
  mutable std::vector<std::int64_t> scratch_;
  mutable std::vector<std::int64_t> ids_;  //!< for_rows's rows of one partition
};

}  // namespace zeta::data
