// progress_bar.c: the CLI's rendering of library progress callbacks.
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/timer.h"

void cli_progress_bar_init(cli_progress_bar *bar, FILE *out) {
    memset(bar, 0, sizeof *bar);
    bar->out = out;
    bar->is_tty = isatty(fileno(out));
    bar->enabled =
        cli_progress_setting == CLI_PROGRESS_ALWAYS || (cli_progress_setting == CLI_PROGRESS_AUTO && bar->is_tty);
    bar->interval = 5.0;
}

cli_progress_mode cli_progress_setting = CLI_PROGRESS_AUTO;

static void format_duration(char *buf, size_t size, double s) {
    long t = s < 0 ? 0 : (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

void cli_progress_format(char *buf, size_t size, const char *label, int64_t done, int64_t total, double elapsed,
                         int width) {
    char bar[128];
    if (width > (int)sizeof bar - 1) width = (int)sizeof bar - 1;
    int filled = total > 0 ? (int)((double)width * (double)done / (double)total) : 0;
    if (filled > width) filled = width;
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    char eta[32] = "?", spent[32];
    if (rate > 0 && total >= done) format_duration(eta, sizeof eta, (double)(total - done) / rate);
    format_duration(spent, sizeof spent, elapsed);
    if (done >= total)
        snprintf(buf, size, "%s %lld/%lld [%s] %.3g it/s, %s", label, (long long)done, (long long)total, bar, rate,
                 spent);
    else
        snprintf(buf, size, "%s %lld/%lld [%s] %.3g it/s, ETA %s", label, (long long)done, (long long)total, bar, rate,
                 eta);
}

static void on_progress(void *user, const char *label, int64_t done, int64_t total) {
    cli_progress_bar *bar = user;
    if (!bar->enabled) return;
    double now = msf_now();
    if (done == 0 || strcmp(bar->label, label) != 0) {
        snprintf(bar->label, sizeof bar->label, "%s", label);
        bar->start = now;
        bar->last = now;
    }
    int finished = done >= total;
    if (!bar->is_tty && !finished && now - bar->last < bar->interval) return;
    bar->last = now;
    char line[256];
    cli_progress_format(line, sizeof line, label, done, total, now - bar->start, bar->is_tty ? 30 : 20);
    if (bar->is_tty) fprintf(bar->out, "\r\033[K%s%s", line, finished ? "\n" : "");
    else fprintf(bar->out, "%s\n", line);
    fflush(bar->out);
}

msf_progress cli_progress_bar_callback(cli_progress_bar *bar) { return (msf_progress){on_progress, bar}; }
