// esm-predict: latencies of architectures from a predictor file, one per line, for
// arguments or (with '-') millions of lines on stdin: buffered I/O, batched prediction.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cli.hpp"
#include "esm/predictor.hpp"

static const char* kUsage =
    "usage: esm-predict PREDICTOR [ARCH ... | -]\n"
    "Print the predicted latency (the predictor's target unit, ms) of each architecture, one per line,\n"
    "in input order. '-' (or no ARCH) reads architectures from stdin, one per line (empty lines skipped).\n"
    "A malformed architecture is an error naming its line.\n";

namespace {

void flush(const esm::Predictor& p, std::vector<esm::Arch>& batch, std::vector<float>& out) {
    out.resize(batch.size());
    p.predict_batch(batch.data(), batch.size(), out.data());
    char buf[32];
    for (float v : out) {
        const int n = std::snprintf(buf, sizeof buf, "%.6g\n", static_cast<double>(v));
        std::fwrite(buf, 1, static_cast<size_t>(n), stdout);
    }
    batch.clear();
}

}  // namespace

int main(int argc, char** argv) {
    esm_cli::Args args(argc, argv, kUsage, {});
    return esm_cli::run_tool("esm-predict", [&] {
        const auto& pos = args.positional();
        if (pos.empty()) args.usage_error("expected a predictor file");
        esm::set_blas_threads(1);
        const esm::Predictor p = esm::Predictor::load(pos[0]);
        static char obuf[1 << 20];
        std::setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
        std::vector<esm::Arch> batch;
        std::vector<float> out;
        constexpr size_t kBatch = 4096;
        batch.reserve(kBatch);
        const bool from_stdin = pos.size() == 1 || (pos.size() == 2 && pos[1] == "-");
        std::string err;
        if (!from_stdin) {
            for (size_t i = 1; i < pos.size(); ++i) {
                esm::Arch a;
                if (!esm::try_parse_arch(p.space(), pos[i], &a, &err)) args.fail("argument " + std::to_string(i) + ": " + err);
                batch.push_back(std::move(a));
            }
            flush(p, batch, out);
        } else {
            char* line = nullptr;
            size_t cap = 0;
            long line_no = 0;
            ssize_t len;
            while ((len = ::getline(&line, &cap, stdin)) >= 0) {
                ++line_no;
                while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
                if (len == 0) continue;
                esm::Arch a;
                if (!esm::try_parse_arch(p.space(), std::string(line, static_cast<size_t>(len)), &a, &err)) {
                    std::fflush(stdout);
                    std::free(line);
                    args.fail("stdin line " + std::to_string(line_no) + ": " + err);
                }
                batch.push_back(std::move(a));
                if (batch.size() == kBatch) flush(p, batch, out);
            }
            std::free(line);
            flush(p, batch, out);
        }
        if (std::fflush(stdout) != 0) args.fail("cannot write the output");
        return 0;
    });
}
