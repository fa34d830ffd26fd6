"""Common US first names and surnames, so "my name is John Smith" is in the language model.

Written from the US Social Security top given names and the 2010 Census top surnames
(public statistics, typed in here: nothing is downloaded). Names the bundled pronouncing
dictionary lacks are dropped when the model is built, so this list may be generous.
"""

from __future__ import annotations

FIRST_NAMES = tuple(
    """
    james john robert michael william david richard joseph thomas charles christopher daniel
    matthew anthony mark donald steven paul andrew joshua kenneth kevin brian george timothy
    ronald edward jason jeffrey ryan jacob gary nicholas eric jonathan stephen larry justin
    scott brandon benjamin samuel gregory alexander frank patrick raymond jack dennis jerry
    tyler aaron jose adam nathan henry douglas zachary peter kyle ethan walter noah jeremy
    christian keith roger terry gerald harold sean austin carl arthur lawrence dylan jesse
    jordan bryan billy joe bruce gabriel logan albert willie alan juan wayne elijah randy roy
    vincent ralph eugene russell bobby mason philip louis liam oliver lucas luke carlos
    mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy betty
    margaret sandra ashley kimberly emily donna michelle carol amanda dorothy melissa deborah
    stephanie rebecca sharon laura cynthia kathleen amy angela shirley anna brenda pamela
    emma nicole helen samantha katherine christine debra rachel carolyn janet catherine maria
    heather diane ruth julie olivia joyce virginia victoria kelly lauren christina joan
    evelyn judith megan andrea cheryl hannah jacqueline martha gloria teresa ann sara
    madison frances kathryn janice jean abigail alice judy sophia grace denise amber doris
    marilyn danielle beverly isabella theresa diana natalie brittany charlotte marie kayla
    alexis lori ava mia harper chloe ella lily zoe jane rose claire lucy sophie anne kate
    tom tim mike jim bob bill dave steve joe dan chris matt nick tony ben sam alex max ted
    """.split()  # noqa: SIM905 - a block of names reads better than 200 quoted strings
)

SURNAMES = tuple(
    """
    smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez
    gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson white
    harris sanchez clark ramirez lewis robinson walker young allen king wright scott torres
    nguyen hill flores green adams nelson baker hall rivera campbell mitchell carter roberts
    gomez phillips evans turner diaz parker cruz edwards collins reyes stewart morris morales
    murphy cook rogers gutierrez ortiz morgan cooper peterson bailey reed kelly howard ramos
    kim cox ward richardson watson brooks chavez wood james bennett gray mendoza ruiz hughes
    price alvarez castillo sanders patel myers long ross foster jimenez powell jenkins perry
    russell sullivan bell coleman butler henderson barnes gonzales fisher vasquez simmons
    romero jordan patterson alexander hamilton graham reynolds griffin wallace moreno west
    cole hayes bryant herrera gibson ellis tran medina aguilar stevens murray ford castro
    marshall owens harrison fernandez mcdonald woods washington kennedy wells vargas henry
    chen freeman webb tucker guzman burns crawford olson simpson porter hunter gordon mendez
    silva shaw snyder mason dixon munoz hunt hicks holmes palmer wagner black robertson boyd
    rose stone salazar fox warren mills meyer rice schmidt garza daniels ferguson nichols
    stephens soto weaver ryan gardner payne grant dunn kelley spencer hawkins arnold pierce
    vazquez hansen peters santos hart bradley knight elliott cunningham duncan armstrong
    hudson carroll lane riley andrews alvarado ray delgado berry perkins hoffman johnston
    matthews pena richards willis carpenter lawrence sandoval guerrero george chapman rios
    estrada ortega watkins greene nunez wheeler valdez harper burke larson santiago
    """.split()  # noqa: SIM905 - a block of names reads better than 200 quoted strings
)
