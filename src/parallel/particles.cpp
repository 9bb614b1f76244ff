#include "zeta/parallel/particles.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace zeta::parallel {

std::vector<double> resample_rows(const Comm& comm, const ChainRange& range, const std::vector<std::int64_t>& ancestors,
                                  const std::vector<double>& rows, std::int64_t row_len, std::int64_t* moved) {
  const int P = comm.size(), me = comm.rank();
  std::vector<std::int64_t> first(P + 1);  // rank r holds [first[r], first[r + 1])
  for (int r = 0; r < P; ++r) first[r] = comm.chains_of(r, range.global).offset;
  first[P] = range.global;
  auto owner = [&](std::int64_t i) {
    return int(std::upper_bound(first.begin(), first.end(), i) - first.begin()) - 1;
  };
  // Send: for each destination rank in rank order, the rows of its particles whose
  // ancestor is here, in the destination's particle order. Receive likewise by source.
  std::vector<int> scount(P, 0), rcount(P, 0);
  std::vector<double> send;
  std::int64_t crossing = 0;
  for (int d = 0; d < P; ++d)
    for (std::int64_t j = first[d]; j < first[d + 1]; ++j) {
      const int s = owner(ancestors[j]);
      if (s != d) ++crossing;
      if (s == me && d != me) {
        const double* row = rows.data() + (ancestors[j] - range.offset) * row_len;
        send.insert(send.end(), row, row + row_len);
        scount[d] += int(row_len);
      }
      if (d == me && s != me) rcount[s] += int(row_len);
    }
  if (moved) *moved = crossing;
  std::vector<int> sdispl(P, 0), rdispl(P, 0);
  for (int r = 1; r < P; ++r) {
    sdispl[r] = sdispl[r - 1] + scount[r - 1];
    rdispl[r] = rdispl[r - 1] + rcount[r - 1];
  }
  if (double(rdispl[P - 1]) + rcount[P - 1] > double(std::numeric_limits<int>::max()) ||
      double(sdispl[P - 1]) + scount[P - 1] > double(std::numeric_limits<int>::max()))
    throw std::runtime_error("resample_rows: more than 2^31 values to exchange");
  std::vector<double> recv(std::size_t(rdispl[P - 1] + rcount[P - 1]));
  if (crossing > 0)
    MPI_Alltoallv(send.data(), scount.data(), sdispl.data(), MPI_DOUBLE, recv.data(), rcount.data(), rdispl.data(),
                  MPI_DOUBLE, comm.raw());
  std::vector<double> out(rows.size());
  std::vector<int> next = rdispl;  // the next unread row from each source
  for (std::int64_t j = range.offset; j < range.offset + range.count; ++j) {
    const int s = owner(ancestors[j]);
    const double* row;
    if (s == me) {
      row = rows.data() + (ancestors[j] - range.offset) * row_len;
    } else {
      row = recv.data() + next[s];
      next[s] += int(row_len);
    }
    std::copy(row, row + row_len, out.begin() + (j - range.offset) * row_len);
  }
  return out;
}

}  // namespace zeta::parallel
