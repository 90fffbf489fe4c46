# embed_text(OUT_C SYMBOL INPUT): generate OUT_C defining
#   const char SYMBOL[] = "<contents of INPUT>";
# at build time, so a binary carries a text file (a JSON Schema) inside it
# and stays self-describing. Bytes are written as hex escapes, so any content
# is safe.
set(EMBED_TEXT_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/embed_text_run.cmake")

function(embed_text OUT_C SYMBOL INPUT)
  add_custom_command(
    OUTPUT "${OUT_C}"
    COMMAND "${CMAKE_COMMAND}" -DINPUT=${INPUT} -DOUTPUT=${OUT_C} -DSYMBOL=${SYMBOL}
            -P "${EMBED_TEXT_SCRIPT}"
    DEPENDS "${INPUT}" "${EMBED_TEXT_SCRIPT}"
    COMMENT "Embedding ${INPUT} as ${SYMBOL}"
    VERBATIM)
endfunction()
