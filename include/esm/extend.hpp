// Dataset extension (ESM paper Algorithm 1, SPEC §8 step 3): how many new samples each
// depth bin gets after an evaluation. Pure arithmetic; sampling itself is elsewhere.
#pragma once
#include <vector>

namespace esm {

// bin_accuracy: accuracy (%) per bin; a NaN (a bin with no test samples) counts as below.
// Bins below acc_th get ceil(n_step*w1/N_norm) each, bins at or above get
// ceil(n_step*w2/N_norm), with N_norm = w1*N_below + w2*N_above. w1, w2 >= 0, not both 0.
std::vector<int> extension_per_bin(const std::vector<double>& bin_accuracy, double acc_th, int n_step, double w1,
                                   double w2);

// The extension `asked` (per bin, each >= 0) cut to `room` samples (a sample budget nearly
// spent): unchanged when it fits; else shared in proportion to what each bin asks, each bin
// floor(room * asked / total) and the rest one each to the largest remainders (ties: the
// lower bin), so that bins below Acc_TH keep their w1 : w2 precedence. room < 0 counts as 0.
std::vector<int> fit_extension(const std::vector<int>& asked, int room);

}  // namespace esm
