/* A shared library without em_module_init: the host must say so clearly. */
int not_a_plugin_answer(void);
__attribute__((visibility("default"))) int not_a_plugin_answer(void) { return 42; }
