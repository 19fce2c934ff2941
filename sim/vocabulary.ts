/**
 * Word stock for generated text. Names are built from parts so a corpus of thousands rarely
 * repeats a full name, as real documents rarely do.
 */
export const FIRST_NAMES = (
  'Aaron Abigail Adaeze Adrian Aiko Alana Aleksander Alejandro Amara Amir Anahit Anders Anika Anton Aroha Astrid Aurelio ' +
  'Babajide Beatriz Benedikt Bianca Bjorn Bronwen Caetano Camille Casimir Cecilia Chidi Chiara Cormac Dagny Dalia Damian ' +
  'Dario Delphine Desmond Dilnoza Dmitri Dorothea Eamon Ebele Edmund Elif Elio Elspeth Emeka Enzo Esperanza Ewa Fabian ' +
  'Farah Felix Fenna Florin Folake Gareth Gemma Gideon Giulia Goran Greta Gustavo Halima Hamish Hanne Harriet Hector ' +
  'Helga Hiroshi Hugo Idris Ilse Imogen Ines Ingrid Isidro Ivana Jaroslav Jasper Jovana Julian Kaito Kalinda Karim Katya ' +
  'Kazimir Keziah Kofi Kristof Lachlan Lavinia Leandro Leilani Lennart Lorcan Lucia Ludmila Magnus Malak Marisol Matteo ' +
  'Maximilian Meera Milos Miriam Nadia Nikolai Nilufar Noor Oisin Olamide Orla Oskar Paloma Parisa Pavel Petra Quentin ' +
  'Radek Rafaela Ragnhild Ravi Rosalind Ruairi Sabine Saoirse Selin Severin Sigrid Soren Suvi Tadeo Tamsin Teodor Thandiwe ' +
  'Tobias Ulrike Umar Valentina Vesna Viggo Wanjiru Wilhelmina Xiomara Yannick Yaretzi Yusuf Zaid Zofia Zuzana'
).split(' ');

const SURNAME_HEADS = 'Abel Ander Bal Bren Cal Dover Ek Fair Gal Hallo Hart Ives Jar Kell Lind Mar Nor Oak Pell Quar Rad Sel Stan Tor Ul Var Wen Yar Zel Brock Crane Drum Fen Grim Holt'.split(' ');
const SURNAME_TAILS = 'berg by croft dahl field ford gaard hurst ington kov lund mark mere ova quist rova sen stead ton vik wald well wick worth zyk'.split(' ');

export const SURNAMES = SURNAME_HEADS.flatMap((head) => SURNAME_TAILS.map((tail) => head + tail));

export const PLACES = (
  'Aarhus,Accra,Adelaide,Alicante,Almaty,Antwerp,Arequipa,Asheville,Bergen,Bilbao,Boise,Bologna,Brno,Bruges,Cali,Cardiff,' +
  'Chattanooga,Coimbra,Cork,Curitiba,Dakar,Dayton,Dundee,Durban,Eindhoven,Eugene,Fresno,Galway,Gdansk,Ghent,Graz,Halifax,' +
  'Hobart,Innsbruck,Izmir,Kaunas,Kochi,Krakow,Kumasi,Leeds,Leipzig,Lille,Linz,Ljubljana,Lodz,Lubbock,Lyon,Madison,Malmo,' +
  'Mendoza,Mombasa,Montpellier,Mysore,Nagoya,Nantes,Omaha,Oulu,Oviedo,Palermo,Pecs,Porto,Poznan,Puebla,Quito,Reno,Riga,' +
  'Rosario,Salta,Santander,Sapporo,Savannah,Spokane,Tampere,Tartu,Tucson,Turku,Utrecht,Valencia,Varna,Wroclaw,York,Zadar'
).split(',');

export const ORG_WORDS = 'Amber Basalt Cedar Delta Ember Fjord Granite Harbor Iris Juniper Kestrel Lantern Meridian Northwind Orchard Prism Quarry Riverbend Saltmarsh Thistle Upland Vantage Willow Yarrow Zephyr'.split(' ');
export const ORG_KINDS = 'Analytics Labs Collective Institute Partners Systems Foundation Cooperative Works Review Press Clinic Group Consulting Studio'.split(' ');

export const MONTHS = 'January February March April May June July August September October November December'.split(' ');

export const DOC_TYPES = [
  'forum thread', 'personal blog post', 'internal email', 'peer-reviewed paper abstract', 'news article', 'textbook section',
  'podcast transcript', 'product review', 'meeting minutes', 'newsletter', 'conference talk summary', 'customer support chat log',
  'op-ed', 'university lecture notes', 'company wiki page', 'incident postmortem', 'grant proposal excerpt', 'magazine feature',
  'Q&A column', 'policy memo', 'book review', 'interview transcript', 'technical report', 'social media thread', 'diary entry',
  'press release', 'student essay', 'court filing excerpt', 'letter to the editor', 'FAQ page', 'case study', 'radio segment transcript',
  'community bulletin', 'parliamentary debate excerpt', 'field notes', 'training manual section', 'annual report excerpt',
  'obituary', 'travel blog post', 'startup pitch memo',
];

export const ROLES = 'teacher,nurse,software engineer,librarian,graduate student,small-business owner,retired journalist,policy analyst,product manager,high-school counselor,data scientist,city council member,freelance translator,research scientist,paralegal,pharmacist,tech reporter,philosophy lecturer,customer-support lead,hobbyist programmer'.split(',');
export const AUDIENCES = 'colleagues,a local community group,first-year students,newsletter subscribers,the company board,parents at a school,a hobbyist forum,readers of a trade magazine,a hiring committee,their extended family'.split(',');

export const CONNECTIVES = ['Meanwhile', 'Later that week', 'By contrast', 'In practice', 'Still', 'Even so', 'At first', 'Eventually', 'For what it is worth', 'Looking back', 'That afternoon', 'On balance', 'Separately', 'To be fair', 'In the end'];
export const VERBS = ['noticed', 'argued', 'pointed out', 'wrote', 'mentioned', 'complained', 'admitted', 'explained', 'asked', 'suggested', 'remembered', 'insisted', 'observed', 'joked', 'warned'];
export const OBJECTS = ['the budget', 'the schedule', 'the pilot program', 'the spreadsheet', 'the survey results', 'the first draft', 'the training session', 'the vendor contract', 'the quarterly numbers', 'the rollout', 'the committee notes', 'the user interviews', 'the lab results', 'the migration plan', 'the reading list'];
export const ADJECTIVES = ['careful', 'blunt', 'uneven', 'surprising', 'modest', 'useful', 'awkward', 'thorough', 'candid', 'messy', 'practical', 'narrow', 'promising', 'tedious', 'sober'];
