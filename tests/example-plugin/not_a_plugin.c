/* A shared library without em_module_init: the host must say so clearly. */
#include "em_action.h" /* only for EM_EXPORT: this library exports something else */

EM_EXPORT int not_a_plugin_answer(void);
EM_EXPORT int not_a_plugin_answer(void) { return 42; }
