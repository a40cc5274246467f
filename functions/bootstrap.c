/*
 * The zip's `bootstrap`: a static executable that starts the real program
 * through the dynamic loader and libraries shipped beside it in lib/, so the
 * package runs on any x86-64 Linux whatever its glibc (Lambda's
 * provided.al2023 has an older one than the build machine) and needs nothing
 * from the image, not even a shell.
 *
 *   bootstrap -> lib/ld-linux-x86-64.so.2 --library-path lib bin/proximadb function
 *
 * The package root is LAMBDA_TASK_ROOT when Lambda sets it, else the folder
 * this file was started from.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    char root[PATH_MAX];
    const char *task_root = getenv("LAMBDA_TASK_ROOT");
    if (task_root && *task_root) {
        snprintf(root, sizeof root, "%s", task_root);
    } else if (argv[0] && strchr(argv[0], '/')) {
        snprintf(root, sizeof root, "%s", argv[0]);
        *strrchr(root, '/') = '\0';
        if (!*root) strcpy(root, "/");
    } else {
        ssize_t n = readlink("/proc/self/exe", root, sizeof root - 1);
        if (n <= 0) { fprintf(stderr, "bootstrap: cannot find the package folder\n"); return 127; }
        root[n] = '\0';
        *strrchr(root, '/') = '\0';
    }
    char loader[PATH_MAX], libs[PATH_MAX], program[PATH_MAX];
    snprintf(loader, sizeof loader, "%s/lib/ld-linux-x86-64.so.2", root);
    snprintf(libs, sizeof libs, "%s/lib", root);
    snprintf(program, sizeof program, "%s/bin/proximadb", root);

    /* loader --library-path lib program function [extra arguments] */
    char **args = calloc((size_t)argc + 6, sizeof *args);
    if (!args) return 127;
    int i = 0;
    args[i++] = loader;
    args[i++] = "--library-path";
    args[i++] = libs;
    args[i++] = program;
    args[i++] = "function";
    for (int a = 1; a < argc; a++) args[i++] = argv[a];
    args[i] = NULL;
    execv(loader, args);
    fprintf(stderr, "bootstrap: cannot start %s: %s\n", loader, strerror(errno));
    return 127;
}
