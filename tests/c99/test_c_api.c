/* Proves esm.h is C: compiled with -std=c99 -pedantic -Werror and linked against the
 * static libesm.a. Exercises spaces, architectures, sampling, errors and (when a
 * predictor path is given as argv[1]) predictions. Exit status 0 = every check held. */
#include <stdio.h>
#include <math.h>
#include <string.h>

#include "esm/esm.h"

static int failures = 0;
#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n",     \
                    __FILE__, __LINE__, #cond, esm_last_error());            \
            ++failures;                                                      \
        }                                                                    \
    } while (0)

int main(int argc, char** argv) {
    esm_space_t space = NULL;
    esm_space_info info;
    esm_arch_t arch = NULL, bad = NULL, child = NULL, other = NULL;
    esm_sampler_t sampler = NULL;
    char text[512];
    size_t needed = 0;
    int depth = 0, bin = -1, i;
    int64_t params = 0, macs = 0;
    const char* r50 =
        "resnet:k3e100-k3e100-k3e100/k3e100-k3e100-k3e100-k3e100/"
        "k3e100-k3e100-k3e100-k3e100-k3e100-k3e100/k3e100-k3e100-k3e100";

    CHECK(strlen(esm_version()) > 0);
    CHECK(esm_space_load("resnet", &space) == ESM_OK);
    CHECK(esm_space_get_info(space, &info) == ESM_OK);
    CHECK(strcmp(info.name, "resnet") == 0 && info.units == 4 && info.min_depth == 4 && info.max_depth == 28);
    CHECK(info.size_log10 > 26.9 && info.size_log10 < 27.0);
    CHECK(esm_space_bin(space, 8, 5, &bin) == ESM_OK && bin == 0);

    CHECK(esm_arch_parse(space, r50, &arch) == ESM_OK);
    CHECK(esm_arch_depth(arch, &depth) == ESM_OK && depth == 16);
    CHECK(esm_arch_params(arch, &params) == ESM_OK && params == 25557032);
    CHECK(esm_arch_macs(arch, 1, 0, &macs) == ESM_OK && macs > 4080000000LL && macs < 4100000000LL);
    CHECK(esm_arch_print(arch, text, sizeof text, &needed) == ESM_OK && strcmp(text, r50) == 0);
    CHECK(needed == strlen(r50) + 1);
    CHECK(esm_arch_print(arch, text, 10, &needed) == ESM_ERR_BUFFER_TOO_SMALL && needed == strlen(r50) + 1);

    /* Errors: a status and a message naming the column; never a crash. */
    CHECK(esm_arch_parse(space, "resnet:k4e50/k3e50/k3e50/k3e50", &bad) == ESM_ERR_PARSE && bad == NULL);
    CHECK(strstr(esm_last_error(), "column 9") != NULL);
    CHECK(esm_arch_parse(NULL, r50, &bad) == ESM_ERR_INVALID_ARGUMENT);
    CHECK(esm_arch_parse(space, NULL, &bad) == ESM_ERR_INVALID_ARGUMENT);
    {
        esm_space_t none = NULL;
        CHECK(esm_space_load("no-such-space", &none) == ESM_ERR_INVALID_ARGUMENT && none == NULL);
        CHECK(strstr(esm_last_error(), "no-such-space") != NULL);
    }
    CHECK(esm_space_parse("name = x\n", (esm_space_t*)NULL) == ESM_ERR_INVALID_ARGUMENT);
    {   /* a space from text: ResNet's units at an elastic resolution */
        esm_space_t el = NULL;
        esm_arch_t a = NULL;
        int res = 0;
        CHECK(esm_space_parse("name = tiny\nfamily = resnet\nunits = 2\nwidth = 64 128\nstride = 1 2\n"
                              "depth = 1-2\nchoice k = 3\nchoice e = 1/2:50\nstem = 16\nresolution = 96 128\n", &el) == ESM_OK);
        CHECK(esm_arch_parse(el, "tiny:k3e50/k3e50-k3e50@128", &a) == ESM_OK);
        CHECK(esm_arch_resolution(a, &res) == ESM_OK && res == 128);
        CHECK(esm_arch_resolution(arch, &res) == ESM_OK && res == 224); /* resnet's fixed one */
        {
            esm_space_t bad_space = el;
            CHECK(esm_space_parse("name = tiny\nfamily = resnet\nbogus = 1\n", &bad_space) == ESM_ERR_FORMAT && bad_space == NULL);
            CHECK(strstr(esm_last_error(), "line 3: unknown key 'bogus'") != NULL);
        }
        esm_arch_free(a);
        esm_space_free(el);
    }
    CHECK(esm_space_bin(space, 3, 5, &bin) == ESM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(esm_status_string(ESM_ERR_FORMAT), "ESM_ERR_FORMAT") != NULL);
    esm_arch_free(NULL);
    esm_space_free(NULL);
    esm_sampler_free(NULL);
    esm_predictor_free(NULL);

    /* Sampling and search moves. */
    CHECK(esm_sampler_create(space, 7, &sampler) == ESM_OK);
    for (i = 0; i < 200; ++i) {
        CHECK(esm_sampler_balanced(sampler, 5, &other) == ESM_OK);
        CHECK(esm_sampler_mutate(sampler, other, 0.2, &child) == ESM_OK);
        CHECK(esm_arch_depth(child, &depth) == ESM_OK && depth >= 4 && depth <= 28);
        esm_arch_free(other);
        other = child;
        CHECK(esm_sampler_crossover(sampler, arch, other, &child) == ESM_OK);
        esm_arch_free(other);
        esm_arch_free(child);
        other = child = NULL;
    }
    CHECK(esm_sampler_mutate(sampler, arch, 1.5, &child) == ESM_ERR_INVALID_ARGUMENT && child == NULL);

    /* Executors, measurement and datasets. */
    {
        esm_space_t dspace = NULL;
        esm_arch_t small = NULL;
        esm_executor_t ex = NULL;
        esm_executor_options opt = esm_executor_default_options();
        esm_measurement m;
        esm_dataset_t ds = NULL;
        double sum = 0;
        int has = 1;
        char path[256];
        opt.res = 64;
        CHECK(esm_space_load("densenet", &dspace) == ESM_OK);
        CHECK(esm_arch_parse(dspace, "densenet:d1k1/d1k3/d1k1/d1k1/d1k1", &small) == ESM_OK);
        CHECK(esm_executor_create(small, &opt, &ex) == ESM_OK);
        CHECK(esm_executor_run(ex) == ESM_OK);
        CHECK(esm_executor_checksum(ex, &sum) == ESM_OK && sum == sum); /* finite, not NaN */
        CHECK(esm_executor_measure(ex, 1, 5, &m) == ESM_OK && m.latency_ms > 0 && m.runs == 3);
        {   /* 2^31 - 1 timed runs would hold 16 GiB of times (and run for days): refused at once */
            esm_measurement none;
            CHECK(esm_executor_measure(ex, 0, 2147483647, &none) == ESM_ERR_INVALID_ARGUMENT);
            CHECK(strstr(esm_last_error(), "runs must be in [1, 1000000] (got 2147483647)") != NULL);
            CHECK(esm_executor_measure(ex, 1000001, 5, &none) == ESM_ERR_INVALID_ARGUMENT);
            CHECK(strstr(esm_last_error(), "warmup must be in [0, 1000000]") != NULL);
        }
        opt.device = 7;
        {
            esm_executor_t none = NULL;
            CHECK(esm_executor_create(small, &opt, &none) == ESM_ERR_INVALID_ARGUMENT && none == NULL);
        }
        /* in the test's working directory; ctest runs this with and without a predictor at once */
        sprintf(path, "c99_dataset%s.csv", argc > 1 ? "_with_predictor" : "");
        remove(path);
        CHECK(esm_dataset_open(path, dspace, "test device", "c99", &ds) == ESM_OK);
        CHECK(esm_dataset_contains(ds, small, &has) == ESM_OK && has == 0);
        CHECK(esm_dataset_append(ds, small, &m) == ESM_OK);
        CHECK(esm_dataset_contains(ds, small, &has) == ESM_OK && has == 1);
        CHECK(esm_dataset_append(ds, arch, &m) == ESM_ERR_INVALID_ARGUMENT); /* a resnet arch */
        CHECK(esm_dataset_contains(ds, arch, &has) == ESM_ERR_INVALID_ARGUMENT);
        {   /* values the file could not be read back with */
            esm_measurement bad = m;
            bad.latency_ms = HUGE_VAL;
            CHECK(esm_dataset_append(ds, small, &bad) == ESM_ERR_INVALID_ARGUMENT);
            bad = m;
            bad.std_ms = HUGE_VAL;
            CHECK(esm_dataset_append(ds, small, &bad) == ESM_ERR_INVALID_ARGUMENT);
        }
        esm_dataset_free(ds);
        ds = NULL;
        CHECK(esm_dataset_open("c99_nl.csv", dspace, "two\nlines", "c99", &ds) == ESM_ERR_INVALID_ARGUMENT && ds == NULL);
        CHECK(strstr(esm_last_error(), "device 'two\nlines' contains a tab or") != NULL);
        ds = NULL;
        CHECK(esm_dataset_open(path, dspace, "another device", "c99", &ds) == ESM_ERR_FORMAT && ds == NULL);
        remove(path);
        esm_executor_free(ex);
        esm_arch_free(small);
        esm_space_free(dspace);
        esm_executor_free(NULL);
        esm_dataset_free(NULL);
    }

    if (argc > 1) { /* a predictor trained on resnet by the C++ test that runs this */
        esm_predictor_t pred = NULL;
        esm_space_t pspace = NULL;
        esm_arch_t cands[64];
        float out[64];
        double one = 0;
        CHECK(esm_predictor_load(argv[1], &pred) == ESM_OK);
        CHECK(esm_predictor_space(pred, &pspace) == ESM_OK);
        CHECK(esm_predictor_predict(pred, arch, &one) == ESM_OK && one > 0);
        CHECK(esm_predictor_predict_text(pred, r50, &one) == ESM_OK && one > 0);
        for (i = 0; i < 64; ++i) CHECK(esm_sampler_random(sampler, &cands[i]) == ESM_OK);
        CHECK(esm_set_blas_threads(0) == ESM_ERR_INVALID_ARGUMENT);
        CHECK(esm_set_blas_threads(1) == ESM_OK);
        CHECK(esm_predictor_predict_batch(pred, cands, 64, out) == ESM_OK);
        for (i = 0; i < 64; ++i) {
            double single = 0;
            CHECK(esm_predictor_predict(pred, cands[i], &single) == ESM_OK);
            CHECK(out[i] > 0 && (single - out[i]) * (single - out[i]) < 1e-6 * single * single);
            esm_arch_free(cands[i]);
        }
        CHECK(esm_predictor_predict_text(pred, "densenet:d1k1/d1k1/d1k1/d1k1/d1k1", &one) == ESM_ERR_PARSE);
        { /* calibration to a "new device" whose latency is 2 x the predictor's + 0.5 ms */
            esm_arch_t rows[20];
            double lat[20], p0 = 0, p1 = 0, loo = -1;
            esm_predictor_t cal = NULL, back = NULL, pair[2];
            size_t pick = 9;
            char path[600];
            for (i = 0; i < 20; ++i) {
                CHECK(esm_sampler_random(sampler, &rows[i]) == ESM_OK);
                CHECK(esm_predictor_predict(pred, rows[i], &p0) == ESM_OK);
                lat[i] = 2 * p0 + 0.5;
            }
            CHECK(esm_predictor_calibrate(pred, rows, lat, 20, &cal) == ESM_OK);
            CHECK(esm_predictor_predict(pred, arch, &p0) == ESM_OK);
            CHECK(esm_predictor_predict(cal, arch, &p1) == ESM_OK);
            CHECK((p1 - (2 * p0 + 0.5)) * (p1 - (2 * p0 + 0.5)) < 1e-8 * p1 * p1);
            snprintf(path, sizeof path, "%.500s.cal", argv[1]);
            CHECK(esm_predictor_save(cal, path) == ESM_OK);
            CHECK(esm_predictor_load(path, &back) == ESM_OK);
            CHECK(esm_predictor_predict(back, arch, &p0) == ESM_OK && p0 == p1);
            remove(path);
            pair[0] = pred;
            pair[1] = cal;
            /* fine-tuning an exact calibration: the start already fits, and comes back */
            esm_predictor_free(back);
            CHECK(esm_predictor_fine_tune(cal, rows, lat, 20, &back) == ESM_OK);
            CHECK(esm_predictor_predict(back, arch, &p0) == ESM_OK);
            CHECK((p0 - p1) * (p0 - p1) < 1e-8 * p1 * p1);
            esm_predictor_free(back);
            back = NULL;
            CHECK(esm_predictor_pick_base(pair, 2, rows, lat, 20, &pick, &loo) == ESM_OK);
            CHECK(pick < 2 && loo >= 0 && loo < 1e-6);
            CHECK(esm_predictor_pick_base(pair, 2, rows, lat, 2, &pick, NULL) == ESM_ERR_INVALID_ARGUMENT);
            lat[3] = -1;
            CHECK(esm_predictor_calibrate(pred, rows, lat, 20, &back) == ESM_ERR_INVALID_ARGUMENT && back == NULL);
            CHECK(strstr(esm_last_error(), "esm_predictor_calibrate: latencies_ms[3]") != NULL);
            CHECK(esm_predictor_calibrate(pred, rows, lat, 1, &back) == ESM_ERR_INVALID_ARGUMENT);
            lat[3] = 1e-300; /* positive, but no latency */
            CHECK(esm_predictor_calibrate(pred, rows, lat, 20, &back) == ESM_ERR_INVALID_ARGUMENT && back == NULL);
            CHECK(strstr(esm_last_error(), "latencies_ms[3] is 1e-300, not a latency") != NULL);
            CHECK(esm_predictor_fine_tune(cal, rows, lat, 20, &back) == ESM_ERR_INVALID_ARGUMENT && back == NULL);
            CHECK(strstr(esm_last_error(), "esm_predictor_fine_tune: latencies_ms[3]") != NULL);
            for (i = 0; i < 20; ++i) esm_arch_free(rows[i]);
            esm_predictor_free(cal);
        }
        {
            esm_predictor_t none = NULL;
            CHECK(esm_predictor_load("/nonexistent/p.esm", &none) == ESM_ERR_IO && none == NULL);
        }
        esm_space_free(pspace);
        esm_predictor_free(pred);
    }
    esm_sampler_free(sampler);
    esm_arch_free(arch);
    esm_space_free(space);
    if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
    else printf("c99 API test: all checks held\n");
    return failures ? 1 : 0;
}
