// Latency sources for the ESM loop: a replay pool and an external runner. The CPU (and
// GPU) executor source lives next to its measurement protocol.
#include <memory>

#include "esm/common.hpp"
#include "esm/loop.hpp"

namespace esm {

namespace {

class PoolSource : public LatencySource {
public:
    PoolSource(const Space& space, const std::string& csv, const std::string& target)
        : space_(space), pool_(space, csv, target), csv_(csv), target_(target) {}
    std::vector<std::pair<std::string, std::string>> header() const override {
        return {{"backend", "replay"}, {"pool", csv_}, {"pool_target", target_}};
    }
    void measure(const std::vector<Arch>& archs, const std::function<void(size_t, const Measurement&)>& done) override {
        for (size_t i = 0; i < archs.size(); ++i) done(i, {pool_.latency(format_arch(space_, archs[i])), 0.0, 1});
    }
    const Pool* pool() const override { return &pool_; }
    bool precious() const override { return false; }

private:
    Space space_;
    Pool pool_;
    std::string csv_, target_;
};

class RunnerSource : public LatencySource {
public:
    RunnerSource(const Space& space, const RunnerOptions& opt) : space_(space), runner_(opt) {}
    std::vector<std::pair<std::string, std::string>> header() const override {
        return {{"backend", "external runner"}, {"runner", runner_.options().command}};
    }
    void measure(const std::vector<Arch>& archs, const std::function<void(size_t, const Measurement&)>& done) override {
        for (size_t i = 0; i < archs.size(); ++i) done(i, {runner_.measure(format_arch(space_, archs[i])), 0.0, 1});
    }

private:
    Space space_;
    ExternalRunner runner_;
};

}  // namespace

std::unique_ptr<LatencySource> make_pool_source(const Space& space, const std::string& csv, const std::string& target) {
    return std::make_unique<PoolSource>(space, csv, target);
}

std::unique_ptr<LatencySource> make_runner_source(const Space& space, const RunnerOptions& runner) {
    return std::make_unique<RunnerSource>(space, runner);
}

}  // namespace esm
