/* duct bench's command line. */
#ifndef DUCT_BENCH_CLI_H
#define DUCT_BENCH_CLI_H

/* argv[0] is "bench". Returns the exit status: 0, 1 (the run failed) or 2 (usage). */
int bench_main(int argc, char **argv);

#endif
