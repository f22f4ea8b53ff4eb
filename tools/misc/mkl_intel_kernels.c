/*
 * For measurement only: makes MKL run the kernels it runs on an Intel CPU
 * with the same instruction sets, on any other x86 CPU.
 *
 * MKL asks these two of its own functions whether the CPU is Intel's: the
 * first decides the code path it names in its verbose header, the second
 * the kernels it dispatches. Preloaded, this library answers yes to both,
 * so an AVX-512 AMD CPU runs MKL's AVX-512 sgemm (about 2x its generic
 * path there). docs/performance.md uses it to measure the kernel-route
 * choice where MKL is fast, as on the Intel Xeon of issue 13:
 *
 *   cc -shared -fPIC -o /tmp/libmkl_intel_kernels.so tools/misc/mkl_intel_kernels.c
 *   LD_PRELOAD=/tmp/libmkl_intel_kernels.so python tools/benchmark.py ...
 *
 * Never preload it in production: MKL's Intel kernels are not validated on
 * other vendors' CPUs.
 */
int mkl_serv_intel_cpu(void) { return 1; }
int mkl_serv_intel_cpu_true(void) { return 1; }
