/*
 * pstsnap-messages.dll carries no code, only the message table compiled
 * from messages.mc: Event Viewer loads it as a data file (LoadLibraryEx
 * with LOAD_LIBRARY_AS_DATAFILE) to show events of the sources "pstsnap"
 * and "emhost". A DLL needs one translation unit; this is it.
 */
typedef int pstsnap_messages_dll_has_only_resources;
