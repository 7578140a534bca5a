import ArgumentParser

/// `message` with nnbatch's completion adjustments when it is the parser's bash script.
///
/// The parser's (1.8) bash functions complete every subcommand and option value
/// from the command tree, with two gaps that this function closes, so that all of
/// nnbatch's completion beyond the parser's lives here:
///
/// - The generator ignores `defaultSubcommand` (apple/swift-argument-parser#488).
///   In `nnbatch --config configs/fl<TAB>` the root's function does not know
///   `--config`, takes `configs/fl` for a subcommand name and offers the names
///   that match it: none, and `complete -o filenames` has no `-o default`
///   fallback, so bash offered nothing. A line whose first word is an option is
///   now completed as `nnbatch train ...`.
/// - It treats every option as taking a value, but a bare `--resume` (see
///   ``ResumeTarget``) does not: in `--resume --epochs 3 --q<TAB>` it would take
///   `--epochs` for the value of `--resume`. A `--resume` followed by a word that
///   starts with `-` is left out, as the parser leaves it out of the values.
///
/// The completion of each option's value comes from its `completion:` kind.
/// Any other message (help, version, zsh or fish scripts) is returned as it is.
func adjustingBashCompletion(_ message: String) -> String {
  guard message == NNBatchCommand.completionScript(for: .bash) else { return message }
  return message + "\n\n" + """
    # nnbatch: complete `nnbatch --config …` as `nnbatch train --config …` (train
    # is the default subcommand), and skip a bare `--resume` (one followed by an
    # option), which takes no value. COMP_LINE and COMP_POINT are left as they
    # are: only custom completions read them, and nnbatch has none.
    __nnbatch_complete() {
        local -a words=("${COMP_WORDS[0]}")
        local -i cword="${COMP_CWORD}" i
        if [[ "${COMP_CWORD}" -ge 1 && "${COMP_WORDS[1]}" = -* ]]; then
            words+=(train)
            cword+=1
        fi
        for ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do
            if [[ "${COMP_WORDS[i]}" = --resume && i -lt COMP_CWORD && "${COMP_WORDS[i + 1]}" = -* ]]; then
                cword+=-1
                continue
            fi
            words+=("${COMP_WORDS[i]}")
        done
        local -a COMP_WORDS=("${words[@]}")
        local -i COMP_CWORD="${cword}"
        _nnbatch "${1}" "${2}" "${COMP_WORDS[COMP_CWORD - 1]}"
    }
    complete -o filenames -F __nnbatch_complete nnbatch
    """
}
