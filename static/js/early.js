// Runs before the page is drawn (a blocking script in <head>, kept to one line): styles that only
// make sense with app.js (the folded phone menu) hang on this class. Set any later, a phone first
// drew the whole unfolded menu, the browser scrolled the autofocused field into view below it,
// and the fold then left the header scrolled off the top.
document.documentElement.classList.add("js");
